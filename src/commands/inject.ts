import type { Command } from 'commander';
import { inject, stageExecutable } from '../exe/inject.js';
import { COMPRESS_CHOICES, parseCompression } from '../write/options.js';
import { RdError, EXIT } from '../errors.js';
import { intOption, printJson } from './common.js';
import { examples } from './examples.js';

const MiB = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

export function register(program: Command): void {
  const cmd = program
    .command('inject')
    .description(
      'append a segment that makes `rdrescue` runnable in the image\'s rescue shell (rd.break, break=bottom): ' +
        'the single executable with its own loader and libraries in /usr/lib/rdrescue, and the launcher /usr/bin/rdrescue; ' +
        'the image\'s own files are left as they are. With --thin, only a launcher of a few KiB that starts the rdrescue installed on the mounted real root',
    )
    .argument('[image]', 'the initramfs to extend')
    .option('-o, --output <file>', 'where to write the new image (may equal IMAGE; written to a temporary file, then renamed)')
    .option('--compress <method>', `compression of the new segment: ${COMPRESS_CHOICES.join(', ')} (the kernel must support it; none works everywhere)`, 'none')
    .option('--level <n>', 'compression level')
    .option('--thin', 'add only a launcher of a few KiB that starts the rdrescue installed on the mounted real root, with that root\'s own loader and libraries (the rdrescue package installs it there)')
    .option('--exe <path>', 'the rdrescue single executable to carry (default: this one, or dist/rdrescue next to the bundle); with --thin, the build whose loader and glibc the launcher expects')
    .option('--runbook <file>', 'bake in a runbook: the image applies it at its next boot with nobody at the console, once (checked now; secrets only as hash:)')
    .option('--stage <dir>', 'instead of appending, write the same files into DIR, an initramfs build tree (used by the dracut and initramfs-tools hooks)')
    .option('--unsigned-ok', 'IMAGE may be a UKI: write a new, unsigned UKI whose .initrd has the new segment (drops its signature; for machines without Secure Boot)')
    .option('--json', 'print the report as JSON')
    .action(async (image: string | undefined, o: { output?: string; compress?: string; level?: string; exe?: string; runbook?: string; stage?: string; thin?: boolean; json?: boolean; unsignedOk?: boolean }) => {
      if (o.stage !== undefined) {
        if (image !== undefined || o.output !== undefined || o.runbook !== undefined) throw new RdError('--stage writes into a directory: give no IMAGE, -o or --runbook', {}, EXIT.usage);
        const p = stageExecutable(o.stage, { exe: o.exe, thin: o.thin });
        if (o.json) printJson({ dir: o.stage, exe: p.exe, files: p.files.map((f) => '/' + f.name), payloadBytes: p.bytes });
        return;
      }
      if (image === undefined) throw new RdError('missing IMAGE (or --stage DIR)', {}, EXIT.usage);
      if (o.output === undefined) throw new RdError('missing -o OUT: where to write the new image', {}, EXIT.usage);
      const compress = parseCompression(o.compress ?? 'none');
      const r = await inject(image, o.output, {
        exe: o.exe,
        thin: o.thin,
        runbook: o.runbook,
        unsignedOk: o.unsignedOk,
        compress,
        level: o.level === undefined ? undefined : intOption('--level', o.level),
        onWarning: (m) => process.stderr.write(`rdrescue: warning: ${m}\n`),
      });
      if (o.json) {
        printJson(r);
        return;
      }
      process.stdout.write(
        `${r.out}: added ${r.files.length} files (${MiB(r.payloadBytes)} uncompressed): ${MiB(r.originalBytes)} -> ${MiB(r.newBytes)}, grew by ${MiB(r.grewBy)} (${r.grewBy} bytes)\n` +
          (r.runbook ? `runbook baked in as ${r.runbook}: applied at the next boot (${r.bootHook}), once\n` : '') +
          (r.bootHook ? `boot with rd.rdrescue.runbook=PATH to run a runbook unattended (${r.bootHook})\n` : '') +
          (o.thin
            ? 'the launcher starts the rdrescue installed on the real root (/usr/bin/rdrescue there); in the rescue shell run: rdrescue --help\n'
            : `in the rescue shell run: rdrescue --help\n`),
      );
    });
  examples(cmd, [
    ['rdrescue inject --thin /boot/initrd.img-6.1.0-18-amd64 -o /boot/initrd.img-6.1.0-18-amd64', 'a 4.7 KiB launcher that starts the rdrescue installed on the root'],
    ['rdrescue inject /boot/initrd.img-6.1.0-18-amd64 -o /boot/initrd.img-6.1.0-18-amd64 --compress zstd', 'rdrescue in that image\'s rescue shell from the next boot'],
    ['rdrescue inject /boot/initrd.img-6.1.0-18-amd64 -o /boot/initrd.rescue --runbook fix.yaml', 'a rescue image that applies fix.yaml once at boot'],
  ]);
}

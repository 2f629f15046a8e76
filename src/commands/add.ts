import type { Command } from 'commander';
import { addToImage } from '../write/add-files.js';
import { COMPRESS_CHOICES, parseCompression, parseOwner } from '../write/options.js';
import { intOption, printJson } from './common.js';
import { examples } from './examples.js';

interface AddFlags {
  output: string;
  bin?: string[];
  compress: string;
  level?: string;
  root?: string;
  owner?: string;
  json?: boolean;
  unsignedOk?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('add')
    .description(
      'append one segment with files, directories and programs (with their whole shared-library closure, read from ELF, never via ldd); the original bytes stay untouched and the kernel unpacks the new files over them',
    )
    .argument('<image>', 'initramfs image (never modified unless -o names it)')
    .argument('[files...]', 'SRC[:DEST]: a file or directory (recursively, with modes); DEST defaults to SRC\'s absolute path')
    .requiredOption('-o, --output <image>', 'image to write (replaced atomically)')
    .option('--bin <program...>', 'PROGRAM[:DEST]: a program and every library it loads, at their paths (takes every argument up to the next option: give files before it)')
    .option('--compress <method>', `compression of the new segment: ${COMPRESS_CHOICES.join(', ')}`, 'none')
    .option('--level <n>', 'compression level')
    .option('--root <dir>', 'resolve --bin programs and libraries inside this root instead of /')
    .option('--owner <uid:gid>', 'store this owner for the added entries, e.g. 0:0')
    .option('--unsigned-ok', 'IMAGE may be a UKI: write a new, unsigned UKI whose .initrd has the new segment (drops its signature; for machines without Secure Boot)')
    .option('--json', 'print the report as JSON')
    .action(async (image: string, files: string[], o: AddFlags) => {
      const r = await addToImage(image, o.output, {
        files,
        bins: o.bin,
        root: o.root,
        compress: parseCompression(o.compress),
        level: o.level ? intOption('--level', o.level) : undefined,
        owner: o.owner ? parseOwner(o.owner) : undefined,
        unsignedOk: o.unsignedOk,
        onWarning: (m) => process.stderr.write(`rdrescue: warning: ${m}\n`),
      });
      if (o.json) printJson(r);
      else {
        const grew = r.newBytes - r.originalBytes;
        process.stderr.write(`rdrescue: wrote ${r.output}: ${r.entries} ${r.entries === 1 ? 'entry' : 'entries'} added, ${r.originalBytes} -> ${r.newBytes} bytes (+${grew}, ${((grew / r.originalBytes) * 100).toFixed(1)}%)\n`);
      }
    });
  examples(cmd, [
    ['rdrescue add /boot/initrd.img-6.1.0-18-amd64 -o /tmp/new.img --bin /usr/bin/strace', 'strace and every library it loads, in a new segment'],
    ['rdrescue add /boot/initrd.img-6.1.0-18-amd64 -o /tmp/new.img ./fix.sh:/usr/bin/fix.sh', 'one file at a path of your choice; the original bytes stay as they are'],
  ]);
}

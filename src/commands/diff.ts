import type { Command } from 'commander';
import { RdError } from '../errors.js';
import { diffImages, formatDiff } from '../write/diff.js';
import { intOption, printJson } from './common.js';
import { ADDONS_HELP, PROFILE_HELP, ukiFlags } from './image-arg.js';
import { examples } from './examples.js';

/** diff(1)'s convention: 0 same, 1 different, 2 (or the error's own code above it) trouble. */
const TROUBLE = 2;

export function register(program: Command): void {
  const cmd = program
    .command('diff')
    .description(
      'compare two images path by path as the kernel would leave them (later segments win): entries added, removed and changed (type, mode, owner, size, sha256, link target, device; not mtimes, which differ between any two builds); exit status 0 same, 1 different, 2 or more trouble',
    )
    .argument('<image-a>', 'the old image (initramfs, UKI or kernel with a built-in initramfs)')
    .argument('<image-b>', 'the new image')
    .option('--json', 'print the report as JSON')
    .option('--content', 'show a unified diff (diff -u) of each changed text file up to 1 MiB')
    .option('--profile <n>', PROFILE_HELP + ' (applies to the images that are UKIs)')
    .option('--addons <dir>', ADDONS_HELP)
    .option('--no-native', 'use only the built-in decoders')
    .option('--max-output <bytes>', 'stop after this many decompressed bytes (bomb guard)')
    .action(async (a: string, b: string, o: { json?: boolean; content?: boolean; native: boolean; maxOutput?: string; profile?: string; addons?: string }) => {
      let r;
      try {
        r = await diffImages(a, b, { ...ukiFlags(o), ukiOptionsWhereUki: true, content: o.content, native: o.native, maxOutput: o.maxOutput ? intOption('--max-output', o.maxOutput) : undefined });
      } catch (e) {
        // An error must never look like "the images differ" (exit 1).
        const code = e instanceof RdError ? e.exitCode : 0;
        if (code >= TROUBLE) throw e;
        throw new RdError(e instanceof Error ? e.message : String(e), {}, TROUBLE);
      }
      if (o.json) printJson(r);
      else process.stdout.write(formatDiff(r));
      const s = r.summary;
      process.exitCode = s.added + s.removed + s.changed > 0 ? 1 : 0;
    });
  examples(cmd, [
    ['rdrescue diff /boot/initrd.img-6.1.0-18-amd64 /tmp/new.img', 'what the new image changes at boot: added, removed, changed paths'],
    ['rdrescue diff --content old.img new.img', 'with a diff -u of each changed text file'],
  ]);
}

import type { Command } from 'commander';
import { extractImage } from '../image/extract.js';
import { intOption, printJson } from './common.js';
import { ADDONS_HELP, PROFILE_HELP, ukiFlags } from './image-arg.js';
import { examples } from './examples.js';

export function register(program: Command): void {
  const cmd = program
    .command('extract')
    .description(
      'extract an image like `cpio -idm`: one segment straight into DIR; several in the unmkinitramfs layout (DIR/early, early2…, main, main2…), or all into DIR with --merged',
    )
    .argument('<image>', 'initramfs image, UKI or kernel with a built-in initramfs')
    .argument('<dir>', 'destination directory (created if missing)')
    .argument('[patterns...]', 'only entries matching these shell globs')
    .option('--merged', 'extract every segment into DIR in order: the tree the kernel would see')
    .option('--json', 'print what was extracted as JSON')
    .option('--profile <n>', PROFILE_HELP)
    .option('--addons <dir>', ADDONS_HELP)
    .option('--no-native', 'use only the built-in decoders')
    .option('--max-output <bytes>', 'stop after this many decompressed bytes (bomb guard)')
    .action(async (image: string, dir: string, patterns: string[], o: { merged?: boolean; json?: boolean; native: boolean; maxOutput?: string; profile?: string; addons?: string }) => {
      const r = await extractImage(image, dir, {
        ...ukiFlags(o),
        merged: o.merged,
        patterns,
        native: o.native,
        maxOutput: o.maxOutput ? intOption('--max-output', o.maxOutput) : undefined,
        onWarning: (m) => process.stderr.write(`rdrescue: warning: ${m}\n`),
      });
      if (o.json) printJson(r);
    });
  examples(cmd, [
    ['rdrescue extract /boot/initrd.img-6.1.0-18-amd64 /tmp/rd', 'several segments: /tmp/rd/early, /tmp/rd/main (the unmkinitramfs layout)'],
    ['rdrescue extract --merged /boot/initrd.img-6.1.0-18-amd64 /tmp/rd', 'every segment into /tmp/rd in order: the tree the kernel sees'],
    ['rdrescue extract /boot/initrd.img-6.1.0-18-amd64 /tmp/rd \'usr/lib/modules/*\'', 'only the entries matching a glob'],
  ]);
}

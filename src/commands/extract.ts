import type { Command } from 'commander';
import { DamageLog } from '../image/damage.js';
import { extractImage } from '../image/extract.js';
import { intOption, printJson, warnLine } from './common.js';
import { ADDONS_HELP, PROFILE_HELP, ukiFlags } from './image-arg.js';
import { examples } from './examples.js';

export function register(program: Command): void {
  const cmd = program
    .command('extract')
    .description(
      'extract an image like `cpio -idm`: one segment straight into DIR; several in the unmkinitramfs layout (DIR/early, early2…, main, main2…), or all into DIR with --merged. Entries the kernel skips are skipped with a warning; a damaged image keeps every entry before the damage, then fails (exit 3)',
    )
    .argument('<image>', 'initramfs image, UKI or kernel with a built-in initramfs')
    .argument('<dir>', 'destination directory (created if missing)')
    .argument('[patterns...]', 'only entries matching these shell globs')
    .option('--merged', 'extract every segment into DIR in order: the tree the kernel would see')
    .option('--json', 'print what was extracted as JSON')
    .option('--strict', 'stop at the first damage (a bad crc checksum) instead of warning and reading on')
    .option('--profile <n>', PROFILE_HELP)
    .option('--addons <dir>', ADDONS_HELP)
    .option('--no-native', 'use only the built-in decoders')
    .option('--verify', 'check the data of every file in crc archives, also of files this command skips unread')
    .option('--max-output <bytes>', 'stop after this many decompressed bytes (bomb guard)')
    .action(async (image: string, dir: string, patterns: string[], o: { merged?: boolean; json?: boolean; strict?: boolean; native: boolean; verify?: boolean; maxOutput?: string; profile?: string; addons?: string }) => {
      const damage = new DamageLog(warnLine);
      const r = await extractImage(image, dir, {
        ...ukiFlags(o),
        merged: o.merged,
        patterns,
        native: o.native,
        verify: o.verify,
        strict: o.strict,
        onDamage: damage.note,
        maxOutput: o.maxOutput ? intOption('--max-output', o.maxOutput) : undefined,
        onWarning: warnLine,
      });
      if (o.json) printJson(r);
      damage.check(image);
    });
  examples(cmd, [
    ['rdrescue extract /boot/initrd.img-6.1.0-18-amd64 /tmp/rd', 'several segments: /tmp/rd/early, /tmp/rd/main (the unmkinitramfs layout)'],
    ['rdrescue extract --merged /boot/initrd.img-6.1.0-18-amd64 /tmp/rd', 'every segment into /tmp/rd in order: the tree the kernel sees'],
    ['rdrescue extract /boot/initrd.img-6.1.0-18-amd64 /tmp/rd \'usr/lib/modules/*\'', 'only the entries matching a glob'],
  ]);
}

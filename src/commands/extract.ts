import type { Command } from 'commander';
import { DamageLog } from '../image/damage.js';
import { extractImage } from '../image/extract.js';
import { intOption, printJson, warnLine } from './common.js';

export function register(program: Command): void {
  program
    .command('extract')
    .description(
      'extract an image like `cpio -idm`: one segment straight into DIR; several in the unmkinitramfs layout (DIR/early, early2…, main, main2…), or all into DIR with --merged. Entries the kernel skips are skipped with a warning; a damaged image keeps every entry before the damage, then fails (exit 3)',
    )
    .argument('<image>', 'initramfs image')
    .argument('<dir>', 'destination directory (created if missing)')
    .argument('[patterns...]', 'only entries matching these shell globs')
    .option('--merged', 'extract every segment into DIR in order: the tree the kernel would see')
    .option('--json', 'print what was extracted as JSON')
    .option('--strict', 'stop at the first damage (a bad crc checksum) instead of warning and reading on')
    .option('--no-native', 'use only the built-in decoders')
    .option('--max-output <bytes>', 'stop after this many decompressed bytes (bomb guard)')
    .action(async (image: string, dir: string, patterns: string[], o: { merged?: boolean; json?: boolean; strict?: boolean; native: boolean; maxOutput?: string }) => {
      const damage = new DamageLog(warnLine);
      const r = await extractImage(image, dir, {
        merged: o.merged,
        patterns,
        native: o.native,
        strict: o.strict,
        onDamage: damage.note,
        maxOutput: o.maxOutput ? intOption('--max-output', o.maxOutput) : undefined,
        onWarning: warnLine,
      });
      if (o.json) printJson(r);
      damage.check(image);
    });
}

import type { Command } from 'commander';
import { catFiles } from '../image/cat.js';
import { DamageLog } from '../image/damage.js';
import { intOption, warnLine } from './common.js';

export function register(program: Command): void {
  program
    .command('cat')
    .description('write the named files from the image to stdout (the last copy wins, as at boot), like `lsinitrd -f`')
    .argument('<image>', 'initramfs image')
    .argument('<paths...>', 'paths inside the image, e.g. etc/fstab or /init')
    .option('--strict', 'stop at the first damage (a bad crc checksum) instead of warning and reading on')
    .option('--no-native', 'use only the built-in decoders')
    .option('--max-output <bytes>', 'stop after this many decompressed bytes (bomb guard)')
    .action(async (image: string, paths: string[], o: { strict?: boolean; native: boolean; maxOutput?: string }) => {
      const damage = new DamageLog(warnLine);
      await catFiles(image, paths, process.stdout, {
        native: o.native,
        strict: o.strict,
        onDamage: damage.note,
        maxOutput: o.maxOutput ? intOption('--max-output', o.maxOutput) : undefined,
      });
      damage.check(image);
    });
}

import type { Command } from 'commander';
import { catFiles } from '../image/cat.js';
import { DamageLog } from '../image/damage.js';
import { intOption, warnLine } from './common.js';
import { ADDONS_HELP, PROFILE_HELP, ukiFlags } from './image-arg.js';
import { examples } from './examples.js';

export function register(program: Command): void {
  const cmd = program
    .command('cat')
    .description('write the named files from the image to stdout (the last copy wins, as at boot), like `lsinitrd -f`')
    .argument('<image>', 'initramfs image, UKI or kernel with a built-in initramfs')
    .argument('<paths...>', 'paths inside the image, e.g. etc/fstab or /init')
    .option('--strict', 'stop at the first damage (a bad crc checksum) instead of warning and reading on')
    .option('--profile <n>', PROFILE_HELP)
    .option('--addons <dir>', ADDONS_HELP)
    .option('--no-native', 'use only the built-in decoders')
    .option('--verify', 'check the data of every file in crc archives, also of files this command skips unread')
    .option('--max-output <bytes>', 'stop after this many decompressed bytes (bomb guard)')
    .action(async (image: string, paths: string[], o: { strict?: boolean; native: boolean; verify?: boolean; maxOutput?: string; profile?: string; addons?: string }) => {
      const damage = new DamageLog(warnLine);
      await catFiles(image, paths, process.stdout, {
        ...ukiFlags(o),
        native: o.native,
        verify: o.verify,
        strict: o.strict,
        onDamage: damage.note,
        maxOutput: o.maxOutput ? intOption('--max-output', o.maxOutput) : undefined,
      });
      damage.check(image);
    });
  examples(cmd, [
    ['rdrescue cat /boot/initrd.img-6.1.0-18-amd64 conf/initramfs.conf', 'print one file of the image'],
    ['rdrescue cat /boot/initrd.img-6.1.0-18-amd64 etc/fstab etc/crypttab', 'several files in turn; a later copy in the image wins, as at boot'],
  ]);
}

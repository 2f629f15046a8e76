import type { Command } from 'commander';
import { catFiles } from '../image/cat.js';
import { intOption } from './common.js';

export function register(program: Command): void {
  program
    .command('cat')
    .description('write the named files from the image to stdout (the last copy wins, as at boot), like `lsinitrd -f`')
    .argument('<image>', 'initramfs image')
    .argument('<paths...>', 'paths inside the image, e.g. etc/fstab or /init')
    .option('--no-native', 'use only the built-in decoders')
    .option('--verify', 'check the data of every file in crc archives, also of files this command skips unread')
    .option('--max-output <bytes>', 'stop after this many decompressed bytes (bomb guard)')
    .action(async (image: string, paths: string[], o: { native: boolean; verify?: boolean; maxOutput?: string }) => {
      await catFiles(image, paths, process.stdout, { native: o.native, verify: o.verify, maxOutput: o.maxOutput ? intOption('--max-output', o.maxOutput) : undefined });
    });
}

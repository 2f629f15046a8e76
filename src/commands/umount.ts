import type { Command } from 'commander';
import { releaseDisk } from '../host/release.js';
import { printJson } from '../output.js';
import { examples } from './examples.js';

export function register(program: Command): void {
  const cmd = program
    .command('umount')
    .description('undo an rdrescue mount in reverse: sync, unmount, detach the loop devices; also after the mounting rdrescue was killed')
    .argument('[dir]', 'where rdrescue mount put the root (default: the only one it holds)')
    .option('--json', 'print the result as JSON')
    .action((dir: string | undefined, o: { json?: boolean }) => {
      const r = releaseDisk(dir);
      if (o.json) return printJson(r);
      process.stdout.write(`released ${r.source} from ${r.at}: ${r.released.join(', ')}\n`);
    });
  examples(cmd, [
    ['rdrescue umount', 'release the only disk rdrescue holds'],
    ['rdrescue umount /mnt/broken', 'release the disk mounted on /mnt/broken, also after rdrescue mount was killed'],
  ]);
}

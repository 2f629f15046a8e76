import type { Command } from 'commander';
import { RdError, EXIT } from '../errors.js';
import { addRescueOptions, targetOf, type RescueFlags } from '../rescue/cli-support.js';
import { remount } from '../rescue/remount.js';
import { printJson } from './common.js';
import { examples } from './examples.js';

export function register(program: Command): void {
  const cmd = addRescueOptions(
    program
      .command('remount')
      .description('remount the target root read-write (rw) or read-only (ro); warns and suggests fsck before rw on an uncleanly unmounted filesystem')
      .argument('<mode>', 'rw or ro')
      .option('--force', 'remount rw even when the superblock records errors (the refusal gives the fsck command)'),
  ).action((mode: string, o: RescueFlags) => {
    if (mode !== 'rw' && mode !== 'ro') throw new RdError(`mode must be rw or ro, not ${JSON.stringify(mode)}`, {}, EXIT.usage);
    const r = remount({ root: targetOf(o).root, mode, dryRun: o.dryRun, force: o.force });
    if (o.json) return printJson({ ...r, dryRun: o.dryRun === true });
    const lines = [
      r.changed ? `${r.applied ? 'remounted' : 'would remount'} ${r.mountPoint} (${r.device}, ${r.fsType}) ${mode}` : `${r.mountPoint} is already ${mode}`,
      ...r.warnings.map((w) => `warning: ${w}`),
    ];
    process.stdout.write(lines.join('\n') + '\n');
  });
  examples(cmd, [
    ['rdrescue remount rw', 'make the target writable (says so first if it was not cleanly unmounted)'],
    ['rdrescue remount ro --root /mnt/broken', 'back to read-only'],
  ]);
}

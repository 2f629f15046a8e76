import type { Command } from 'commander';
import { RdError, EXIT } from '../errors.js';
import { appendJournal, nextJournalId } from '../rescue/journal.js';
import { applyRemount, planRemount } from '../rescue/mounts.js';
import { addRescueOptions, targetOf, type RescueFlags } from '../rescue/cli-support.js';
import { printJson } from './common.js';

export function register(program: Command): void {
  addRescueOptions(
    program
      .command('remount')
      .description('remount the target root read-write (rw) or read-only (ro); warns and suggests fsck before rw on an uncleanly unmounted filesystem')
      .argument('<mode>', 'rw or ro'),
  ).action((mode: string, o: RescueFlags) => {
    if (mode !== 'rw' && mode !== 'ro') throw new RdError(`mode must be rw or ro, not ${JSON.stringify(mode)}`, {}, EXIT.usage);
    const t = targetOf(o);
    const plan = planRemount(t.root, mode);
    const lines = [
      plan.changed ? `${o.dryRun ? 'would remount' : 'remounted'} ${plan.mountPoint} (${plan.device}, ${plan.fsType}) ${mode}` : `${plan.mountPoint} is already ${mode}`,
      ...plan.warnings.map((w) => `warning: ${w}`),
    ];
    if (!o.dryRun && plan.changed) {
      const entry = () => ({ id: nextJournalId(t.root), time: new Date().toISOString(), action: `remount ${mode}`, subject: plan.mountPoint, summary: [`${plan.mountPoint} remounted ${mode}`], files: [] });
      // the journal lives on this filesystem: write it while it is writable
      if (mode === 'ro') appendJournal(t.root, entry());
      applyRemount(plan);
      if (mode === 'rw') appendJournal(t.root, entry());
    }
    if (o.json) printJson({ ...plan, dryRun: o.dryRun === true });
    else process.stdout.write(lines.join('\n') + '\n');
  });
}

import { appendJournal, nextJournalId } from './journal.js';
import { applyRemount, planRemount, refuseRecordedErrors, type RemountResult } from './mounts.js';

/**
 * `rdrescue remount rw|ro` as a library call: the plan says what would
 * happen (and warns about an uncleanly unmounted filesystem), apply does it
 * and journals it on the target, while the target is writable.
 */
export interface RemountOptions {
  root: string;
  mode: 'ro' | 'rw';
  dryRun?: boolean;
  /** rw on a filesystem whose superblock records errors. */
  force?: boolean;
}

export function remount(o: RemountOptions): RemountResult & { applied: boolean } {
  const plan = planRemount(o.root, o.mode);
  if (o.dryRun || !plan.changed) return { ...plan, applied: false };
  const forced = o.mode === 'rw' ? refuseRecordedErrors(o.root, o.force === true) : undefined;
  if (forced) plan.warnings.push(forced);
  const entry = () => ({ id: nextJournalId(o.root), time: new Date().toISOString(), action: `remount ${o.mode}`, subject: plan.mountPoint, summary: [`${plan.mountPoint} remounted ${o.mode}`], files: [] });
  // the journal lives on this filesystem: write it while it is writable
  if (o.mode === 'ro') appendJournal(o.root, entry());
  const said = applyRemount(plan);
  if (o.mode === 'rw') appendJournal(o.root, entry());
  return { ...plan, warnings: said ? [...plan.warnings, said] : plan.warnings, applied: true };
}

import { RdError, FormatError, EXIT } from '../errors.js';
import { selinuxState } from './facts.js';
import { lastUndoable, octal, readJournal, sha256, undoneIds, type JournalEntry } from './journal.js';
import { AUTORELABEL, labelOf, SUSE_AUTORELABEL, withLabels } from './labels.js';
import { applyPlan, type ApplyOptions, type ApplyResult, type FileChange, type Plan } from './plan.js';
import { SHADOW } from './passwd.js';
import { remountIfReadOnly } from './relabel.js';
import { readTargetFile, resolveInRoot } from './target.js';
import { describeXattrs } from './xattrs.js';

/**
 * `status --undo LAST`: put back what one journal entry changed, from the
 * copies saved when it was made. A file someone changed since is left
 * alone unless --force, so undo never throws away later work silently.
 */
export interface UndoOptions {
  /** Entry id, or undefined/'LAST' for the newest change not yet undone. */
  id?: number | 'LAST';
  force?: boolean;
}

export function planUndo(root: string, o: UndoOptions = {}): Plan {
  const entries = readJournal(root);
  let entry: JournalEntry | undefined;
  if (o.id === undefined || o.id === 'LAST') {
    entry = lastUndoable(entries);
    if (!entry) throw new RdError('nothing to undo: the journal has no change that is not undone yet', { file: resolveInRoot(root, '/var/log/rdrescue.log') }, EXIT.badInput);
  } else {
    entry = entries.find((e) => e.id === o.id);
    if (!entry) throw new RdError(`no journal entry ${o.id}`, {}, EXIT.badInput);
    if (entries.some((e) => e.undoes === entry!.id)) throw new RdError(`entry ${o.id} is already undone`, {}, EXIT.badInput);
  }
  const changes: FileChange[] = [];
  const notes: string[] = [];
  for (const f of entry.files) {
    const now = readTargetFile(root, f.path);
    const changedSince = f.afterSha256 === undefined ? now !== null : now === null || sha256(now) !== f.afterSha256;
    if (changedSince && !o.force) throw new RdError(`changed since entry ${entry.id} (${entry.action}); re-run with --force to restore it anyway`, { file: f.path }, EXIT.refused);
    let after: Buffer | null = null;
    if (f.existed) {
      if (!f.saved) throw new RdError(`entry ${entry.id} kept no copy of it, so it cannot be restored`, { file: f.path }, EXIT.refused);
      after = readTargetFile(root, f.saved);
      if (after === null) throw new RdError(`the saved copy ${f.saved} is gone`, { file: f.path }, EXIT.refused);
    }
    if (f.meta && ![f.meta.mode, f.meta.uid, f.meta.gid].every((n) => Number.isInteger(n) && n >= 0 && n < 2 ** 32)) {
      throw new FormatError(`entry ${entry.id} records no valid mode and owner for it; the journal was edited`, { file: f.path });
    }
    const xattrs = f.meta?.xattrs && Object.keys(f.meta.xattrs).length ? `, ${describeXattrs(f.meta.xattrs)}` : '';
    const meta = f.existed && f.meta ? `, mode ${octal(f.meta.mode)}, owner ${f.meta.uid}:${f.meta.gid}${xattrs}` : '';
    changes.push({
      path: f.path,
      before: now,
      after,
      setMeta: f.existed ? f.meta : undefined,
      description: [f.existed ? `restored as it was before entry ${entry.id} (${entry.action})${meta}` : `removed (entry ${entry.id} created it)`],
    });
  }
  keepNeededRelabel(root, entries, entry, changes, notes);
  return withLabels({
    action: 'undo',
    root,
    subject: `${entry.id} (${entry.action}${entry.subject ? ` ${entry.subject}` : ''})`,
    changes,
    remount: changes.length ? remountIfReadOnly(root) : undefined,
    lockShadow: entry.files.some((f) => f.path === SHADOW),
    notes,
    satisfied: changes.length === 0,
    undoes: entry.id,
  });
}

/**
 * Taking back a relabel request while a file is still unlabelled re-arms
 * the lockout (an enforcing boot leaves it unlabeled_t): the removal is
 * dropped when a file this undo restores has no recorded label, or another
 * change not undone left files unlabelled.
 */
function keepNeededRelabel(root: string, entries: JournalEntry[], entry: JournalEntry, changes: FileChange[], notes: string[]): void {
  const i = changes.findIndex((c) => c.after === null && (c.path === AUTORELABEL || c.path === SUSE_AUTORELABEL));
  if (i < 0 || !selinuxState(root).relabelNeeded) return;
  const undone = undoneIds(entries);
  const restored = changes.filter((c) => c.after !== null && !labelOf(c.setMeta?.xattrs)).map((c) => c.path);
  const others = entries.filter((e) => e.id !== entry.id && e.undoes === undefined && !undone.has(e.id)).flatMap((e) => e.unlabelled ?? []);
  const need = [...new Set([...restored, ...others])];
  if (!need.length) return;
  notes.push(`${changes[i].path} is kept: ${need.join(', ')} still ${need.length === 1 ? 'has' : 'have'} no SELinux label, and an enforcing boot would leave ${need.length === 1 ? 'it' : 'them'} unlabeled_t`);
  changes.splice(i, 1);
}

export async function undoChange(opts: UndoOptions & ApplyOptions & { root: string }): Promise<ApplyResult> {
  return applyPlan(planUndo(opts.root, opts), opts);
}

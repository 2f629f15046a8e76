import { RdError, FormatError, EXIT } from '../errors.js';
import { lastUndoable, octal, readJournal, sha256, type JournalEntry } from './journal.js';
import { applyPlan, type ApplyOptions, type ApplyResult, type FileChange, type Plan } from './plan.js';
import { SHADOW } from './passwd.js';
import { remountIfReadOnly } from './relabel.js';
import { readTargetFile, resolveInRoot } from './target.js';

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
    const meta = f.existed && f.meta ? `, mode ${octal(f.meta.mode)}, owner ${f.meta.uid}:${f.meta.gid}` : '';
    changes.push({
      path: f.path,
      before: now,
      after,
      setMeta: f.existed ? f.meta : undefined,
      description: [f.existed ? `restored as it was before entry ${entry.id} (${entry.action})${meta}` : `removed (entry ${entry.id} created it)`],
    });
  }
  return {
    action: 'undo',
    root,
    subject: `${entry.id} (${entry.action}${entry.subject ? ` ${entry.subject}` : ''})`,
    changes,
    remount: changes.length ? remountIfReadOnly(root) : undefined,
    lockShadow: entry.files.some((f) => f.path === SHADOW),
    notes,
    satisfied: changes.length === 0,
    undoes: entry.id,
  };
}

export async function undoChange(opts: UndoOptions & ApplyOptions & { root: string }): Promise<ApplyResult> {
  return applyPlan(planUndo(opts.root, opts), opts);
}

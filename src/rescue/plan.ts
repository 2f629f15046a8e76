import { RdError } from '../errors.js';
import { atomicReplace, durableRemove } from './atomic-write.js';
import { fileMeta, type FileMeta } from './file-meta.js';
import { appendJournal, nextJournalId, saveUndoCopy, sha256, type JournalFile } from './journal.js';
import { autorelabelPath, relabelRequested } from './labels.js';
import { checkShadowUnlocked, lockShadow, type ShadowLock } from './lock.js';
import { applyRemount, refuseRecordedErrors, type RemountResult } from './mounts.js';
import { readTargetFile, resolveInRoot } from './target.js';
import { SELINUX_XATTR } from './xattrs.js';

/**
 * Every rescue action is a plan first (what would change, or "already
 * satisfied"), then an apply. --dry-run prints the plan; running twice finds
 * the second plan satisfied. The runbook engine uses the same two steps.
 */
export interface FileChange {
  /** Absolute path inside the target ("/etc/shadow"). */
  path: string;
  /** Content the plan was made against; null: the file does not exist. */
  before: Buffer | null;
  /** New content; null: remove the file. */
  after: Buffer | null;
  /** A conventional backup written first (shadow-utils' "/etc/shadow-"). */
  backup?: string;
  createMode?: number;
  /** Mode and owner the file had before this change began, when something before the content (a runbook write's chown) changed them already; default: as found when applied. Journaled for undo. */
  previousMeta?: FileMeta;
  /** Mode, owner and extended attributes for the new content (undo putting them back); default: the replaced file's. */
  setMeta?: FileMeta;
  /** SELinux context for a file that has none to keep (a new file: its policy's label). */
  label?: string;
  /** What changes, for people (never a password or hash). */
  description: string[];
}

export interface Plan {
  action: string;
  root: string;
  subject?: string;
  changes: FileChange[];
  /** Set when the target filesystem must be remounted rw first. */
  remount?: RemountResult;
  /** Take the shadow-utils locks around the write. */
  lockShadow?: boolean;
  notes: string[];
  /** Nothing to do: the target is already as asked. */
  satisfied: boolean;
  /** For undo plans: the journal entry reverted. */
  undoes?: number;
  /** SELinux is on and relabelling is allowed: a label the host refuses to set at apply time makes apply ask for a relabel. */
  relabelOnLoss?: boolean;
  /** Files this plan leaves without an SELinux label (journaled: undo keeps a relabel request while some are there). */
  unlabelled?: string[];
}

export interface ApplyOptions {
  /** Break a stale shadow lock; write to a filesystem whose superblock records errors. */
  force?: boolean;
  /** Do not write /var/log/rdrescue.log (the change is still made). */
  noJournal?: boolean;
}

export interface ApplyResult {
  plan: Plan;
  applied: boolean;
  journalId?: number;
  notes: string[];
}

function same(a: Buffer | null, b: Buffer | null): boolean {
  return a === null || b === null ? a === b : a.equals(b);
}

export async function applyPlan(plan: Plan, opts: ApplyOptions = {}): Promise<ApplyResult> {
  const notes = [...plan.notes];
  if (plan.satisfied) return { plan, applied: false, notes };
  if (plan.lockShadow) checkShadowUnlocked(plan.root, { force: opts.force });
  const forced = refuseRecordedErrors(plan.root, opts.force === true);
  if (forced) notes.push(forced);
  if (plan.remount?.changed) {
    const said = applyRemount(plan.remount);
    notes.push(said ?? `remounted ${plan.remount.mountPoint} ${plan.remount.to}`);
  }
  let lock: ShadowLock | undefined;
  if (plan.lockShadow) {
    lock = await lockShadow(plan.root, { force: opts.force });
    notes.push(...lock.notes);
  }
  try {
    for (const c of plan.changes) {
      const now = readTargetFile(plan.root, c.path);
      if (!same(now, c.before)) throw new RdError('changed since this plan was made (another tool?); run the command again; nothing was changed', { file: c.path });
    }
    const id = opts.noJournal ? undefined : nextJournalId(plan.root);
    const files: JournalFile[] = [];
    const lost: string[] = [];
    for (const c of plan.changes) {
      const host = resolveInRoot(plan.root, c.path);
      const jf: JournalFile = { path: c.path, existed: c.before !== null };
      if (id !== undefined && c.before !== null) {
        jf.saved = saveUndoCopy(plan.root, id, c.path, c.before);
        jf.meta = c.previousMeta ?? fileMeta(host);
      }
      if (c.after === null) durableRemove(host);
      else {
        const r = atomicReplace(host, c.after, c.before, { backup: c.backup && resolveInRoot(plan.root, c.backup), createMode: c.createMode, meta: c.setMeta, label: c.label });
        jf.afterSha256 = sha256(c.after);
        for (const k of r.notKept) {
          notes.push(`${c.path}: ${k.name} could not be kept (${k.error})`);
          if (k.name === SELINUX_XATTR) lost.push(c.path);
        }
      }
      files.push(jf);
    }
    if (lost.length && plan.relabelOnLoss && !relabelRequested(plan.root)) {
      const request = autorelabelPath(plan.root);
      atomicReplace(resolveInRoot(plan.root, request), Buffer.alloc(0), null, { createMode: 0o644 });
      files.push({ path: request, existed: false, afterSha256: sha256(Buffer.alloc(0)) });
      notes.push(`${request} created: the next boot relabels every file (SELinux), because ${lost.join(', ')} could not be given ${lost.length === 1 ? 'its' : 'their'} label here`);
    }
    if (id !== undefined) {
      const summary = [...(plan.remount?.changed ? [`remounted ${plan.remount.mountPoint} ${plan.remount.to}`] : []), ...plan.changes.flatMap((c) => c.description)];
      try {
        const unlabelled = [...new Set([...(plan.unlabelled ?? []), ...lost])];
        appendJournal(plan.root, { id, time: new Date().toISOString(), action: plan.action, subject: plan.subject, summary, files, undoes: plan.undoes, ...(unlabelled.length && { unlabelled }) });
      } catch (e) {
        // the change itself is done and durable; failing now would make it look undone
        notes.push(`the change is made, but it could not be recorded in /var/log/rdrescue.log (${(e as Error).message}), so status --undo will not know it`);
        return { plan, applied: true, notes };
      }
    }
    return { plan, applied: true, journalId: id, notes };
  } finally {
    await lock?.release();
  }
}

/** The plan as lines a person reads before saying yes (--dry-run) or after (the report). */
export function describePlan(plan: Plan, applied = false): string[] {
  const lines: string[] = [];
  const verb = applied ? '' : 'would: ';
  if (plan.satisfied) lines.push(`${plan.action}${plan.subject ? ` ${plan.subject}` : ''}: already done, nothing to change`);
  if (plan.remount?.changed && !plan.satisfied) lines.push(`${verb}remount ${plan.remount.mountPoint} (${plan.remount.device}) ${plan.remount.to}`);
  for (const c of plan.changes) {
    for (const d of c.description) lines.push(`${verb}${c.path}: ${d}`);
    if (c.backup) lines.push(`${verb}${c.path}: previous content kept as ${c.backup}`);
  }
  for (const w of plan.remount?.warnings ?? []) lines.push(`warning: ${w}`);
  for (const n of plan.notes) lines.push(`note: ${n}`);
  return lines;
}

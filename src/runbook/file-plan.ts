import { chmodSync, chownSync, lstatSync, mkdirSync, readFileSync } from 'node:fs';
import { RdError } from '../errors.js';
import { fileMeta, type FileMeta } from '../rescue/file-meta.js';
import { appendJournal, nextJournalId, saveUndoCopy, sha256, type JournalFile } from '../rescue/journal.js';
import { applyRemount, refuseRecordedErrors } from '../rescue/mounts.js';
import { applyPlan, describePlan, type ApplyResult, type Plan } from '../rescue/plan.js';
import { resolveInRoot } from '../rescue/target.js';
import { labelXattr } from '../rescue/file-contexts.js';
import { SELINUX_XATTR, writeXattrs } from '../rescue/xattrs.js';

/**
 * The `write` and `ssh-key` steps change content (a rescue Plan, applied,
 * backed up and journaled by the rescue library) and also directories,
 * modes and owners, which a Plan cannot express. Those are done around the
 * Plan: ownership and a tightened mode before the new content lands, so new
 * content is never readable by more people than the runbook allows, and the
 * final mode after.
 */
export interface MetaChange {
  /** In-target path, links already resolved. */
  path: string;
  mkdir?: boolean;
  /** SELinux context for the directory made (its policy's label). */
  label?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  what: string;
}

export interface FilePlan {
  plan: Plan;
  before: MetaChange[];
  after: MetaChange[];
  satisfied: boolean;
}

export { octal } from '../rescue/journal.js';

export function describeFilePlan(fp: FilePlan, applied = false): string[] {
  if (fp.satisfied) return describePlan(fp.plan);
  const verb = applied ? '' : 'would: ';
  const meta = (ms: MetaChange[]) => ms.map((m) => `${verb}${m.path}: ${m.what}`);
  // the content descriptions already carry the mode/owner lines when content changes
  const lines = describePlan(fp.plan, applied);
  return fp.plan.changes.length ? lines : [...lines.filter((l) => !l.startsWith('note:')), ...meta([...fp.before, ...fp.after]), ...lines.filter((l) => l.startsWith('note:'))];
}

function applyMeta(root: string, m: MetaChange, notes: string[]): void {
  const host = resolveInRoot(root, m.path, false);
  if (m.mkdir) {
    mkdirSync(host, { mode: 0o700 });
    const failed = m.label ? writeXattrs(host, { [SELINUX_XATTR]: labelXattr(m.label) }, false) : [];
    if (failed.length) notes.push(`${m.path}: its label could not be set (${failed[0].error})`);
  }
  // the path was checked when planned; a link appearing since is someone racing us
  if (lstatSync(host).isSymbolicLink()) throw new RdError('became a symbolic link after the plan was made; nothing more was changed', { file: m.path });
  if (m.uid !== undefined || m.gid !== undefined) chownSync(host, m.uid ?? -1, m.gid ?? -1);
  if (m.mode !== undefined) chmodSync(host, m.mode);
}

export async function applyFilePlan(fp: FilePlan): Promise<ApplyResult> {
  const { plan } = fp;
  if (fp.satisfied) return { plan, applied: false, notes: plan.notes };
  const notes = [...plan.notes];
  refuseRecordedErrors(plan.root, false);
  if (plan.remount?.changed) {
    const said = applyRemount(plan.remount);
    notes.push(said ?? `remounted ${plan.remount.mountPoint} ${plan.remount.to}`);
  }
  // Mode and owner of the regular files as they were before anything here touches them, journaled so undo puts them back.
  const prior = new Map<string, FileMeta>();
  for (const p of new Set([...plan.changes.map((c) => c.path), ...[...fp.before, ...fp.after].map((m) => m.path)])) {
    const host = resolveInRoot(plan.root, p, false);
    if (lstatSync(host, { throwIfNoEntry: false })?.isFile()) prior.set(p, fileMeta(host));
  }
  for (const m of fp.before) applyMeta(plan.root, m, notes);
  let journalId: number | undefined;
  if (plan.changes.length) {
    const r = await applyPlan({ ...plan, remount: undefined, changes: plan.changes.map((c) => ({ ...c, previousMeta: prior.get(c.path) })) });
    journalId = r.journalId;
    notes.push(...r.notes.filter((n) => !notes.includes(n)));
  } else {
    journalId = nextJournalId(plan.root);
    const summary = [...(plan.remount?.changed ? [`remounted ${plan.remount.mountPoint} ${plan.remount.to}`] : []), ...[...fp.before, ...fp.after].map((m) => `${m.path}: ${m.what}`)];
    // Only mode and owner change; the unchanged content is saved too, so undo restores such a file like any other.
    const files: JournalFile[] = [...prior].map(([path, meta]) => {
      const content = readFileSync(resolveInRoot(plan.root, path, false));
      return { path, existed: true, saved: saveUndoCopy(plan.root, journalId!, path, content), meta, afterSha256: sha256(content) };
    });
    appendJournal(plan.root, { id: journalId, time: new Date().toISOString(), action: plan.action, subject: plan.subject, summary, files });
  }
  for (const m of fp.after) applyMeta(plan.root, m, notes);
  return { plan, applied: true, journalId, notes };
}

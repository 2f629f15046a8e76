import { selinuxState } from './facts.js';
import { planRemount } from './mounts.js';
import { applyPlan, type ApplyOptions, type ApplyResult, type FileChange, type Plan } from './plan.js';
import { readTargetFile } from './target.js';

/**
 * /.autorelabel asks the target's SELinux boot to relabel every file. We need
 * it after replacing a file from outside the policy (at rd.break no policy
 * is loaded), because the new file has no security.selinux label.
 */
export const AUTORELABEL = '/.autorelabel';

/** The change that creates /.autorelabel when the target runs SELinux, with a note either way. */
export function relabelAfterReplace(root: string, skip: boolean): { change?: FileChange; note: string } {
  const se = selinuxState(root);
  if (!se.relabelNeeded) return { note: `SELinux is ${se.mode === 'none' ? 'not configured' : 'disabled'} in the target: no relabel needed` };
  if (skip) return { note: `SELinux is ${se.mode} in the target and --no-relabel was given: the replaced files have no SELinux label; relabel them (restorecon) before booting ${se.mode === 'enforcing' ? 'enforcing' : ''}`.trimEnd() };
  const before = readTargetFile(root, AUTORELABEL);
  if (before !== null) return { note: `SELinux is ${se.mode}: ${AUTORELABEL} is already there, the next boot relabels` };
  return {
    change: { path: AUTORELABEL, before: null, after: Buffer.alloc(0), createMode: 0o644, description: ['created: the next boot relabels every file (SELinux) and reboots once more'] },
    note: `SELinux is ${se.mode} in the target: the next boot relabels the filesystem (and reboots once more)`,
  };
}

/** Remount plan for writing into the target, attached only when it must go rw. */
export function remountIfReadOnly(root: string): Plan['remount'] {
  const r = planRemount(root, 'rw');
  return r.changed ? r : undefined;
}

export interface RelabelOptions {
  /** Remove /.autorelabel instead of creating it. */
  undo?: boolean;
}

export function planRelabel(root: string, opts: RelabelOptions = {}): Plan {
  const before = readTargetFile(root, AUTORELABEL);
  const se = selinuxState(root);
  const notes = se.relabelNeeded ? [] : [`SELinux is ${se.mode === 'none' ? 'not configured' : 'disabled'} in the target, so ${AUTORELABEL} has no effect`];
  const change: FileChange | undefined = opts.undo
    ? before === null
      ? undefined
      : { path: AUTORELABEL, before, after: null, description: ['removed: no relabel at next boot'] }
    : before !== null
      ? undefined
      : { path: AUTORELABEL, before: null, after: Buffer.alloc(0), createMode: 0o644, description: ['created: the next boot relabels every file'] };
  return {
    action: opts.undo ? 'relabel --undo' : 'relabel',
    root,
    changes: change ? [change] : [],
    remount: change ? remountIfReadOnly(root) : undefined,
    notes,
    satisfied: !change,
  };
}

export async function relabel(opts: RelabelOptions & ApplyOptions & { root: string }): Promise<ApplyResult> {
  return applyPlan(planRelabel(opts.root, opts), opts);
}

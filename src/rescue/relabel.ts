import { selinuxState } from './facts.js';
import { autorelabelPath, relabelRequested } from './labels.js';
import { planRemount } from './mounts.js';
import { applyPlan, type ApplyOptions, type ApplyResult, type FileChange, type Plan } from './plan.js';
import { readTargetFile } from './target.js';

/** Remount plan for writing into the target, attached only when it must go rw. */
export function remountIfReadOnly(root: string): Plan['remount'] {
  const r = planRemount(root, 'rw');
  return r.changed ? r : undefined;
}

export interface RelabelOptions {
  /** Remove /.autorelabel instead of creating it. */
  undo?: boolean;
}

/** `rdrescue relabel`: ask for a full relabel on purpose (or take the request back). */
export function planRelabel(root: string, opts: RelabelOptions = {}): Plan {
  const present = relabelRequested(root);
  const path = present ?? autorelabelPath(root);
  const se = selinuxState(root);
  const notes = se.relabelNeeded ? [] : [`SELinux is ${se.mode === 'none' ? 'not configured' : 'disabled'} in the target, so ${path} has no effect`];
  const change: FileChange | undefined = opts.undo
    ? present === undefined
      ? undefined
      : { path, before: readTargetFile(root, path), after: null, description: ['removed: no relabel at next boot'] }
    : present !== undefined
      ? undefined
      : { path, before: null, after: Buffer.alloc(0), createMode: 0o644, description: ['created: the next boot relabels every file'] };
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

import { basename } from 'node:path';
import { RdError, EXIT } from '../errors.js';
import { appendJournal, nextJournalId } from '../rescue/journal.js';
import { mountAll, planFstabMounts, unmountAll, type FstabMount } from '../rescue/fstab-mounts.js';
import { applyRemount, planRemount } from '../rescue/mounts.js';
import type { Runbook } from './load.js';
import { checkStep, gateStep, planStep, stepLabel, stepWritesUnder, type PlannedStep, type RunbookStep, type StepChange, type StepContext } from './steps.js';

/**
 * Planning and running a runbook. `plan` plans every step against the
 * target as it is; `run` first checks every step (hostile input is refused
 * here, before anything changes), then plans each step again just before
 * applying it (earlier steps change what later ones see), and stops at the
 * first failure. Every change is journaled by the step itself; the run's
 * report goes into the journal too.
 */
export type StepStatus = 'change' | 'satisfied' | 'error' | 'done' | 'unchanged' | 'failed' | 'not run';

export interface StepReport {
  /** 1-based, as people count. */
  step: number;
  kind: string;
  label: string;
  line: number;
  status: StepStatus;
  lines: string[];
  changes?: StepChange[];
  error?: string;
  /** The plan error is a refusal for safety (exit 4): the run never starts. */
  refused?: boolean;
  /** It cannot be planned yet, but an earlier step may make it possible: the run tries it in its turn. */
  deferred?: boolean;
  journalId?: number;
}

export interface RunbookReport {
  runbook: string;
  root: string;
  mode: 'plan' | 'run';
  sandbox: boolean;
  steps: StepReport[];
  /** Steps that would change (plan) or changed (run) the target. */
  changed: number;
  ok: boolean;
  failedStep?: number;
  notes: string[];
}

export interface RunbookTarget {
  /** Where files are read and written. */
  root: string;
  /** What remount steps act on (default: root). Under --sandbox: the real target while root is the view. */
  mountRoot?: string;
  sandbox?: boolean;
}

/**
 * The target's own filesystems a step writes under (its /home for ssh-key),
 * mounted for the step as its boot would mount them, so the key lands on the
 * real /home and not in the root filesystem's directory hidden under it.
 * One that cannot be mounted here refuses the step, saying why.
 */
function mountForStep(s: RunbookStep, t: RunbookTarget): { held: FstabMount[]; lines: string[] } {
  const under = t.sandbox ? [] : stepWritesUnder(s, t.root);
  if (!under.length) return { held: [], lines: [] };
  const f = planFstabMounts(t.root, { under });
  if (f.blocked.length) {
    throw new RdError(`writes under a filesystem of the target's own that cannot be mounted here (${f.blocked.join('; ')}): the change would land in the root filesystem's directory, hidden by the real one at boot. Mount it inside the target first (rdrescue mount does), or fix the fstab entry`, {}, EXIT.refused);
  }
  return { held: mountAll(f.mounts), lines: f.mounts.map((m) => `mounted the target's ${m.what} for this step`) };
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function where(rb: Runbook, s: RunbookStep): string {
  return `${rb.file}:${s.line}: step ${s.index + 1} (${stepLabel(s)})`;
}

/** The checks that refuse a hostile runbook before anything is changed. */
export function checkRunbook(rb: Runbook, root: string, sandbox = false): void {
  for (const s of rb.steps) {
    let held: FstabMount[] = [];
    try {
      held = mountForStep(s, { root, sandbox }).held;
      checkStep(s, root);
    } catch (e) {
      throw new RdError(`${where(rb, s)}: ${message(e)}; nothing was changed`, {}, e instanceof RdError ? e.exitCode : EXIT.failure);
    } finally {
      unmountAll(held, []);
    }
  }
}

function context(rb: Runbook, t: RunbookTarget, i: number, planned?: Array<PlannedStep | undefined>): StepContext {
  return {
    root: t.root,
    mountRoot: t.mountRoot ?? t.root,
    sandbox: t.sandbox === true,
    mountedAs: planned
      ? () => {
          let state: 'ro' | 'rw' | undefined;
          for (let j = 0; j < i; j++) if (planned[j] && !planned[j]!.satisfied && planned[j]!.remounts) state = planned[j]!.remounts;
          return state;
        }
      : undefined,
    earlierChanges: planned ? () => planned.slice(0, i).flatMap((p) => (p && !p.satisfied ? p.changes : [])) : undefined,
    writesFollow: () => {
      for (let j = i + 1; j < rb.steps.length && rb.steps[j].kind !== 'remount'; j++) {
        try {
          const p = planned ? planned[j] : planStep(rb.steps[j], context(rb, t, j));
          if (!p || !p.satisfied) return true; // a step that cannot be planned yet may well write
        } catch {
          return true;
        }
      }
      return false;
    },
  };
}

/**
 * Whether applying `earlier` can make `later` plannable when it is not yet:
 * only steps that create arbitrary state (write, chroot), and a new password
 * that gives an unlock something behind the "!" lock.
 */
function mayEnable(earlier: RunbookStep, later: RunbookStep): boolean {
  if (earlier.kind === 'write' || earlier.kind === 'chroot') return true;
  return earlier.kind === 'passwd' && later.kind === 'unlock' && (earlier.arg as { user: string }).user === (later.arg as { user: string }).user;
}

export function planRunbook(rb: Runbook, t: RunbookTarget): RunbookReport {
  checkRunbook(rb, t.root, t.sandbox === true);
  const planned: Array<PlannedStep | undefined> = [];
  const errors: Array<{ message: string; refused: boolean }> = [];
  // remount steps look ahead at the plans of the steps after them, so those come first
  const order = [...rb.steps.filter((s) => s.kind !== 'remount'), ...rb.steps.filter((s) => s.kind === 'remount')];
  for (const s of order) {
    let held: FstabMount[] = [];
    try {
      const m = mountForStep(s, t);
      held = m.held;
      const p = planStep(s, context(rb, t, s.index, planned));
      if (m.held.length) p.lines.push(...m.held.map((h) => `note: the target's ${h.target} is mounted for this step (fstab)`));
      planned[s.index] = p;
    } catch (e) {
      errors[s.index] = { message: message(e), refused: e instanceof RdError && e.exitCode === EXIT.refused };
    } finally {
      unmountAll(held, []);
    }
  }
  const steps = rb.steps.map((s, i): StepReport => {
    const base = { step: i + 1, kind: s.kind, label: stepLabel(s), line: s.line };
    const p = planned[i];
    if (!p) {
      const earlier = rb.steps.slice(0, i).some((q) => planned[q.index] && !planned[q.index]!.satisfied && mayEnable(q, s));
      const { message: error, refused } = errors[i];
      return { ...base, status: 'error', error, refused, deferred: earlier && !refused, lines: [`cannot be planned: ${error}${earlier && !refused ? ' (it is planned again after the earlier steps have run)' : ''}`] };
    }
    return { ...base, status: p.satisfied ? 'satisfied' : 'change', lines: p.lines, changes: p.changes };
  });
  // each step is planned against the target as it is now; say so where an earlier step changes the same file first
  const touched = new Map<string, number>();
  for (const s of steps) {
    const paths = (s.changes ?? []).filter((c) => c.path.startsWith('/') && s.kind !== 'remount').map((c) => c.path);
    const earlier = [...new Set(paths.filter((p) => touched.has(p)))];
    if (earlier.length && s.status === 'change') s.lines.push(`note: planned against the target as it is now; ${earlier.map((p) => `step ${touched.get(p)} changes ${p} first`).join(', ')}`);
    if (s.status === 'change') for (const p of paths) touched.set(p, s.step);
  }
  // once a `remount: rw` step has opened the target, the steps after it need not say so each
  let open = false;
  for (const s of steps) {
    if (s.kind === 'remount') open = s.label === 'remount rw' && s.status === 'change';
    else if (open) s.lines = s.lines.filter((l) => !l.startsWith('would: remount '));
  }
  const changed = steps.filter((s) => s.status === 'change').length;
  return { runbook: rb.file, root: t.mountRoot ?? t.root, mode: 'plan', sandbox: t.sandbox === true, steps, changed, ok: !steps.some((s) => s.status === 'error' && !s.deferred), notes: [] };
}

/**
 * Applies the runbook in order; never throws for a failing step (the report
 * says which), only for a runbook refused before anything was changed.
 */
export async function runRunbook(rb: Runbook, t: RunbookTarget, pre: RunbookReport = planRunbook(rb, t)): Promise<RunbookReport> {
  const blocking = pre.steps.find((s) => s.status === 'error' && !s.deferred);
  if (blocking) throw new RdError(`${rb.file}:${blocking.line}: step ${blocking.step} (${blocking.label}): ${blocking.error}; nothing was changed`, {}, blocking.refused ? EXIT.refused : EXIT.badInput);
  for (const s of rb.steps) {
    try {
      await gateStep(s, t.root);
    } catch (e) {
      throw new RdError(`${where(rb, s)}: ${message(e)}; nothing was changed`, {}, e instanceof RdError ? e.exitCode : EXIT.failure);
    }
  }
  const steps: StepReport[] = [];
  let failedStep: number | undefined;
  for (const s of rb.steps) {
    const base = { step: s.index + 1, kind: s.kind, label: stepLabel(s), line: s.line };
    if (failedStep !== undefined) {
      steps.push({ ...base, status: 'not run', lines: [] });
      continue;
    }
    let held: FstabMount[] = [];
    const after: string[] = [];
    try {
      const m = mountForStep(s, t);
      held = m.held;
      const p = planStep(s, context(rb, t, s.index));
      if (p.satisfied) steps.push({ ...base, status: 'unchanged', lines: [...m.lines, ...p.lines] });
      else {
        const r = await p.apply();
        steps.push({ ...base, status: 'done', lines: [...m.lines, ...r.lines], changes: p.changes, journalId: r.journalId });
      }
    } catch (e) {
      failedStep = s.index + 1;
      steps.push({ ...base, status: 'failed', error: message(e), lines: [] });
    } finally {
      unmountAll(held, after);
      steps[steps.length - 1].lines.push(...after.map((n) => `note: ${n}`));
    }
  }
  const report: RunbookReport = { runbook: rb.file, root: t.mountRoot ?? t.root, mode: 'run', sandbox: t.sandbox === true, steps, changed: steps.filter((s) => s.status === 'done').length, ok: failedStep === undefined, failedStep, notes: [] };
  if (report.changed > 0 || !report.ok) journalReport(rb, t, report);
  return report;
}

/** The run's report as one journal entry (no file changes: `status --undo` passes over it). */
function journalReport(rb: Runbook, t: RunbookTarget, report: RunbookReport): void {
  const summary = report.steps.map((s) => `step ${s.step} ${s.label}: ${s.status}${s.error ? `: ${s.error}` : ''}`);
  try {
    const mount = t.sandbox ? undefined : planRemount(t.root, 'rw');
    // a runbook that ends with `remount: ro` has left the target read-only; open it just long enough to log
    if (mount?.changed) applyRemount(mount);
    try {
      appendJournal(t.root, { id: nextJournalId(t.root), time: new Date().toISOString(), action: 'runbook', subject: basename(rb.file), summary, files: [] });
    } finally {
      if (mount?.changed) applyRemount({ ...mount, from: 'rw', to: 'ro' });
    }
  } catch (e) {
    report.notes.push(`the report could not be written to the target's journal: ${message(e)}`);
  }
}

const STATUS_WORD: Record<StepStatus, string> = { change: 'would change', satisfied: 'already done', error: 'CANNOT BE PLANNED', done: 'done', unchanged: 'already done, nothing changed', failed: 'FAILED', 'not run': 'not run' };

/** The report as text; `plan` and `run --dry-run` print exactly this for a plan. */
export function formatReport(r: RunbookReport): string[] {
  const out: string[] = [];
  const what = r.mode === 'plan' ? 'plan' : 'run';
  out.push(`${what} of ${r.runbook} on ${r.root}${r.sandbox ? ' (sandbox: a copy-on-write view; the target itself is not changed)' : ''}`);
  for (const s of r.steps) {
    out.push(`step ${s.step} (line ${s.line}) ${s.label}: ${STATUS_WORD[s.status]}${s.error && s.status === 'failed' ? `: ${s.error}` : ''}`);
    for (const l of s.lines) out.push(`    ${l}`);
  }
  const n = r.steps.length;
  const count = (st: StepStatus) => r.steps.filter((s) => s.status === st).length;
  if (r.mode === 'plan') {
    const errs = count('error');
    out.push(r.changed === 0 && errs === 0 ? `nothing to do: all ${n} steps are already done` : `${r.changed} of ${n} steps would change the target, ${count('satisfied')} already done${errs ? `, ${errs} cannot be planned` : ''}`);
  } else if (!r.ok) {
    const done = r.steps.filter((s) => s.status === 'done').map((s) => s.step);
    out.push(`stopped at step ${r.failedStep}: ${done.length} done, ${count('unchanged')} already done, 1 failed, ${count('not run')} not run; the target is as ${done.length ? `step${done.length > 1 ? 's' : ''} ${done.join(', ')} left it` : 'it was: nothing was changed'}`);
  } else out.push(r.changed === 0 ? `nothing changed: all ${n} steps were already done` : `${r.changed} of ${n} steps changed the ${r.sandbox ? 'view' : 'target'}, ${count('unchanged')} ${count('unchanged') === 1 ? 'was' : 'were'} already done${r.sandbox ? '' : `; see rdrescue status --root ${r.root}`}`);
  for (const note of r.notes) out.push(`note: ${note}`);
  return out;
}

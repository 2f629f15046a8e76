import type { Command } from 'commander';
import { printJson } from '../output.js';
import { applyPlan, describePlan, type ApplyResult, type Plan } from './plan.js';
import { resolveTarget, type Target } from './target.js';

/**
 * What every rescue command shares: --root/--dry-run/--json, finding the
 * target, and printing a plan or its result. Plans hold file contents
 * (hashes included), so output is built from descriptions only.
 */
export interface RescueFlags {
  root?: string;
  dryRun?: boolean;
  json?: boolean;
  force?: boolean;
}

export function addRescueOptions(cmd: Command): Command {
  return cmd
    .option('--root <dir>', 'the root of the system to rescue (default: detected: /sysroot, /root, /new_root, or / under init=/bin/bash)')
    .option('--dry-run', 'print exactly what would change, change nothing')
    .option('--json', 'print the result as JSON');
}

export function targetOf(flags: RescueFlags): Target {
  return resolveTarget({ root: flags.root });
}

/** The plan without file contents: safe to print or log. */
export function planSummary(plan: Plan, result?: ApplyResult) {
  return {
    action: plan.action,
    root: plan.root,
    subject: plan.subject,
    dryRun: result === undefined,
    satisfied: plan.satisfied,
    applied: result?.applied ?? false,
    journalId: result?.journalId,
    remount: plan.remount && { mountPoint: plan.remount.mountPoint, device: plan.remount.device, from: plan.remount.from, to: plan.remount.to, warnings: plan.remount.warnings },
    changes: plan.changes.map((c) => ({ path: c.path, change: c.after === null ? 'remove' : c.before === null ? 'create' : 'modify', backup: c.backup, description: c.description })),
    notes: result?.notes ?? plan.notes,
  };
}

/** --dry-run prints the plan; otherwise apply it and report what was done. */
export async function runPlan(plan: Plan, flags: RescueFlags): Promise<void> {
  if (flags.dryRun) {
    if (flags.json) printJson(planSummary(plan));
    else process.stdout.write(describePlan(plan).map((l) => `${l}\n`).join(''));
    return;
  }
  const result = await applyPlan(plan, { force: flags.force });
  if (flags.json) return printJson(planSummary(plan, result));
  const lines = describePlan({ ...plan, notes: result.notes }, true);
  if (result.journalId !== undefined) lines.push(`recorded as change ${result.journalId} in /var/log/rdrescue.log (rdrescue status; undo: rdrescue status --undo LAST)`);
  process.stdout.write(lines.map((l) => `${l}\n`).join(''));
}

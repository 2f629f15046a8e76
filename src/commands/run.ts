import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import type { Command } from 'commander';
import { RdError, EXIT } from '../errors.js';
import { loadRunbook } from '../runbook/load.js';
import { formatReport, planRunbook, runRunbook, type RunbookReport } from '../runbook/runner.js';
import { formatSandboxChanges, runRunbookInSandbox } from '../runbook/sandbox-run.js';
import { printJson } from './common.js';
import { printLines, printPlan, runbookRoot } from './plan.js';
import { examples } from './examples.js';

interface Flags {
  root?: string;
  yes?: boolean;
  dryRun?: boolean;
  json?: boolean;
  sandbox?: boolean;
}

/** One answer from the controlling terminal; false when there is none to ask. */
function confirm(question: string): boolean {
  const fd = openSync('/dev/tty', 'r+');
  try {
    writeSync(fd, question);
    const buf = Buffer.alloc(256);
    const n = readSync(fd, buf, 0, buf.length, null);
    return /^\s*y(es)?\s*$/i.test(buf.subarray(0, n).toString('utf8'));
  } finally {
    closeSync(fd);
  }
}

function finish(report: RunbookReport, json?: boolean): void {
  if (json) printJson(report);
  else printLines(formatReport(report));
  if (!report.ok) process.exitCode = EXIT.failure;
}

export function register(program: Command): void {
  const cmd = program
    .command('run')
    .description('apply a runbook to the target in order, stopping at the first failure; every change is journaled in the target (rdrescue status). Asks first on a terminal unless --yes')
    .argument('<runbook>', 'the runbook file (YAML or JSON)')
    .option('--root <dir>', "the root of the system to rescue (default: the runbook's target:, else detected)")
    .option('-y, --yes', 'apply without asking')
    .option('--dry-run', 'print the plan (exactly what `rdrescue plan` prints) and change nothing')
    .option('--json', 'print the report as JSON')
    .option('--sandbox', 'apply to a copy-on-write view of the target and print what would change (files added/changed/removed, with a diff for text); the target is not changed')
    .addHelpText('after', '\nExit status: 0 when every step is done (or was already), 1 when a step failed (the report lists done / failed / not run), 3 for a malformed runbook or a step that cannot be planned, 4 for a runbook refused for safety (a path out of the target, a planted link) or without --yes and no terminal to ask on; in the last three cases nothing was changed.')
    .action(async (file: string, o: Flags) => {
      const rb = loadRunbook(file);
      const target = { root: runbookRoot(rb, o.root) };
      if (o.sandbox) {
        if (o.dryRun) throw new RdError('--sandbox and --dry-run exclude each other', {}, EXIT.usage);
        const s = await runRunbookInSandbox(rb, target.root);
        if (o.json) printJson(s);
        else printLines([...formatReport(s.report), ...formatSandboxChanges(s.changes)]);
        if (!s.report.ok) process.exitCode = EXIT.failure;
        return;
      }
      const plan = planRunbook(rb, target);
      if (o.dryRun) return printPlan(plan, o.json);
      if (!o.yes && plan.changed > 0) {
        if (!process.stdin.isTTY) throw new RdError('refusing to change the target without --yes: there is no terminal to ask on (review it with: rdrescue plan RUNBOOK)', {}, EXIT.refused);
        printLines(formatReport(plan));
        if (!confirm(`apply these changes to ${target.root}? [y/N] `)) throw new RdError('not confirmed; nothing was changed', {}, EXIT.refused);
      }
      finish(await runRunbook(rb, target, plan), o.json);
    });
  examples(cmd, [
    ['rdrescue run fix.yaml --root /mnt/broken --yes', 'apply a runbook without asking'],
    ['rdrescue run fix.yaml --root /mnt/broken --sandbox', 'apply it to a throw-away overlay and print the diff'],
    ['rdrescue run fix.yaml --dry-run', 'print the plan and change nothing'],
  ]);
}

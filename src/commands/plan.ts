import type { Command } from 'commander';
import { RdError, EXIT } from '../errors.js';
import { loadRunbook, type Runbook } from '../runbook/load.js';
import { formatReport, planRunbook, type RunbookReport } from '../runbook/runner.js';
import { runbookSchema } from '../runbook/schema.js';
import { resolveTarget } from '../rescue/target.js';
import { printJson } from './common.js';
import { examples } from './examples.js';

/** The root a runbook acts on: --root, else the runbook's own `target:` path, else detection. */
export function runbookRoot(rb: Runbook, root?: string): string {
  const named = root ?? (rb.target && rb.target !== 'auto' ? rb.target : undefined);
  return resolveTarget({ root: named }).root;
}

export function printLines(lines: string[]): void {
  process.stdout.write(lines.map((l) => `${l}\n`).join(''));
}

/** `plan` and `run --dry-run` print the same, and both exit 3 when a step cannot be planned. */
export function printPlan(report: RunbookReport, json?: boolean): void {
  if (json) printJson(report);
  else printLines(formatReport(report));
  if (!report.ok) process.exitCode = EXIT.badInput;
}

export function register(program: Command): void {
  const cmd = program
    .command('plan')
    .description('show what each step of a runbook (YAML or JSON) would change on the target, and which steps are already done; changes nothing')
    .argument('[runbook]', 'the runbook file')
    .option('--root <dir>', "the root of the system to rescue (default: the runbook's target:, else detected)")
    .option('--json', 'print the plan as JSON')
    .option('--schema', "print the runbook format's JSON Schema (draft 2020-12) and exit")
    .action((file: string | undefined, o: { root?: string; json?: boolean; schema?: boolean }) => {
      if (o.schema) return printJson(runbookSchema());
      if (file === undefined) throw new RdError('name the runbook file (or --schema)', {}, EXIT.usage);
      const rb = loadRunbook(file);
      const report = planRunbook(rb, { root: runbookRoot(rb, o.root) });
      printPlan(report, o.json);
    });
  examples(cmd, [
    ['rdrescue plan fix.yaml --root /mnt/broken', 'what each step would change, and which are already done'],
    ['rdrescue plan --schema', 'the runbook format as a JSON Schema'],
  ]);
}

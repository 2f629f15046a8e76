import type { Command } from 'commander';
import { RdError, EXIT } from '../errors.js';
import { addRescueOptions, runPlan, targetOf, type RescueFlags } from '../rescue/cli-support.js';
import { readJournal } from '../rescue/journal.js';
import { planUndo } from '../rescue/undo.js';
import { printJson } from './common.js';
import { examples } from './examples.js';

export function register(program: Command): void {
  const cmd = addRescueOptions(
    program
      .command('status')
      .description("what rdrescue changed in the target (from its /var/log/rdrescue.log); --undo LAST restores the files of the last change")
      .option('--undo [id]', 'undo change ID, or LAST (the default) for the newest one not undone yet')
      .option('--force', 'restore even files changed since; write to a filesystem whose superblock records errors'),
  ).action(async (o: RescueFlags & { undo?: string | boolean }) => {
    const root = targetOf(o).root;
    if (o.undo !== undefined) {
      const raw = o.undo === true ? 'LAST' : String(o.undo);
      if (raw !== 'LAST' && !/^\d+$/.test(raw)) throw new RdError(`--undo takes LAST or a change number, not ${JSON.stringify(raw)}`, {}, EXIT.usage);
      return runPlan(planUndo(root, { id: raw === 'LAST' ? 'LAST' : Number(raw), force: o.force }), o);
    }
    const entries = readJournal(root);
    if (o.json) return printJson(entries);
    if (!entries.length) return void process.stdout.write(`rdrescue has changed nothing in ${root}\n`);
    const undone = new Set(entries.flatMap((e) => (e.undoes !== undefined ? [e.undoes] : [])));
    const lines = entries.flatMap((e) => [
      `${e.id}  ${e.time}  ${e.action}${e.subject ? ` ${e.subject}` : ''}${undone.has(e.id) ? '  (undone)' : ''}`,
      ...e.summary.map((s) => `     ${s}`),
    ]);
    process.stdout.write(lines.join('\n') + '\n');
  });
  examples(cmd, [
    ['rdrescue status', 'what rdrescue changed in the target, newest last'],
    ['rdrescue status --undo LAST', 'restore the files of the last change'],
  ]);
}

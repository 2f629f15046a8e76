import type { Command } from 'commander';
import { addRescueOptions, runPlan, targetOf, type RescueFlags } from '../rescue/cli-support.js';
import { planRelabel } from '../rescue/relabel.js';
import { examples } from './examples.js';

export function register(program: Command): void {
  const cmd = addRescueOptions(
    program
      .command('relabel')
      .description('create /.autorelabel in the target so its next boot relabels every file for SELinux (--undo removes it)')
      .option('--undo', 'remove /.autorelabel')
      .option('--force', 'write to a filesystem whose superblock records errors'),
  ).action(async (o: RescueFlags & { undo?: boolean }) => {
    await runPlan(planRelabel(targetOf(o).root, { undo: o.undo }), o);
  });
  examples(cmd, [
    ['rdrescue relabel', 'relabel every file for SELinux at the next boot'],
    ['rdrescue relabel --undo', 'do not'],
  ]);
}

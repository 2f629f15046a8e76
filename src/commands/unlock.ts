import type { Command } from 'commander';
import { addRescueOptions, runPlan, targetOf, type RescueFlags } from '../rescue/cli-support.js';
import { planUnlock } from '../rescue/unlock.js';
import { examples } from './examples.js';

export function register(program: Command): void {
  const cmd = addRescueOptions(
    program
      .command('unlock')
      .description("let a user log in again without changing the password: remove the '!' lock, clear a passed expiry date, reset a persistent faillock tally")
      .argument('<user>', 'the account')
      .option('--no-relabel', 'never ask for a relabel (/.autorelabel), even when SELinux is on and a file has no label to keep; the output names such files')
      .option('--force', 'break a stale /etc/shadow.lock left by a process that is gone; write to a filesystem whose superblock records errors'),
  ).action(async (user: string, o: RescueFlags & { relabel?: boolean }) => {
    await runPlan(planUnlock(targetOf(o).root, { user, noRelabel: o.relabel === false }), o);
  });
  examples(cmd, [
    ['rdrescue unlock alice', 'remove alice\'s ! lock, a passed expiry date and her faillock tally'],
    ['rdrescue unlock alice --root /mnt/broken --dry-run', 'what would change; nothing is written'],
  ]);
}

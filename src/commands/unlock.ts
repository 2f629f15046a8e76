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
      .option('--no-relabel', 'do not create /.autorelabel even when SELinux is on')
      .option('--force', 'break a stale /etc/shadow.lock left by a process that is gone'),
  ).action(async (user: string, o: RescueFlags & { relabel?: boolean }) => {
    await runPlan(planUnlock(targetOf(o).root, { user, noRelabel: o.relabel === false }), o);
  });
  examples(cmd, [
    ['rdrescue unlock alice', 'remove alice\'s ! lock, a passed expiry date and her faillock tally'],
    ['rdrescue unlock alice --root /mnt/broken --dry-run', 'what would change; nothing is written'],
  ]);
}

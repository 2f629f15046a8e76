import type { Command } from 'commander';
import { addRescueOptions, runPlan, targetOf, type RescueFlags } from '../rescue/cli-support.js';
import { planUnlock } from '../rescue/unlock.js';

export function register(program: Command): void {
  addRescueOptions(
    program
      .command('unlock')
      .description("let a user log in again without changing the password: remove the '!' lock, clear a passed expiry date, reset a persistent faillock tally")
      .argument('<user>', 'the account')
      .option('--no-relabel', 'do not create /.autorelabel even when SELinux is on')
      .option('--force', 'break a stale /etc/shadow.lock left by a process that is gone'),
  ).action(async (user: string, o: RescueFlags & { relabel?: boolean }) => {
    await runPlan(planUnlock(targetOf(o).root, { user, noRelabel: o.relabel === false }), o);
  });
}

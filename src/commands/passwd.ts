import type { Command } from 'commander';
import { RdError, EXIT } from '../errors.js';
import { addRescueOptions, runPlan, targetOf, type RescueFlags } from '../rescue/cli-support.js';
import { planPassword } from '../rescue/passwd.js';
import { readPasswordStdin, readPasswordTty } from '../rescue/password-input.js';
import { examples } from './examples.js';

interface Flags extends RescueFlags {
  passwordStdin?: boolean;
  hash?: string;
  relabel?: boolean;
  clearExpiry?: boolean;
  expire?: boolean;
}

export function register(program: Command): void {
  const cmd = addRescueOptions(
    program
      .command('passwd')
      .description("set a user's password in the target's /etc/shadow: remounts rw if needed, locks like shadow-utils, writes atomically with a shadow- backup, keeps the file's owner, mode, SELinux label and ACL (asks for a relabel only when a label cannot be kept). Asks on the terminal (no echo) unless --password-stdin or --hash")
      .argument('<user>', 'the account (e.g. root)')
      .option('--password-stdin', 'read the password from stdin (one trailing newline is dropped)')
      .option('--hash <crypt>', 'use this crypt string as given (make one with: rdrescue hash)')
      .option('--no-relabel', 'never ask for a relabel (/.autorelabel), even when SELinux is on and a file has no label to keep; the output names such files')
      .option('--clear-expiry', "clear the account's expiry date if it has passed")
      .option('--expire', 'force a password change at the next login')
      .option('--force', 'break a stale /etc/shadow.lock left by a process that is gone; write to a filesystem whose superblock records errors'),
  ).action(async (user: string, o: Flags) => {
    if (o.passwordStdin && o.hash !== undefined) throw new RdError('give --password-stdin or --hash, not both', {}, EXIT.usage);
    const t = targetOf(o);
    const secret = o.hash !== undefined ? { hash: o.hash } : { password: o.passwordStdin ? readPasswordStdin() : await readPasswordTty(user) };
    const plan = planPassword(t.root, { user, ...secret, noRelabel: o.relabel === false, clearExpiry: o.clearExpiry, expire: o.expire });
    await runPlan(plan, o);
  });
  examples(cmd, [
    ['rdrescue passwd root', 'asks twice without echo, then sets the password in the target'],
    ['rdrescue passwd root --password-stdin --root /mnt/broken < /run/pw', 'from a file or a pipe, for a root mounted elsewhere'],
    ['rdrescue passwd alice --dry-run', 'what would change; nothing is written'],
  ]);
}

import type { Command } from 'commander';
import { checkPassword } from '../rescue/passwd.js';
import { readPasswordStdin, readPasswordTty } from '../rescue/password-input.js';
import { hashPassword } from '../rescue/sha512crypt.js';
import { intOption } from './common.js';
import { examples } from './examples.js';

export function register(program: Command): void {
  const cmd = program
    .command('hash')
    .description('print the SHA-512-crypt ($6$) hash of a password read without echo from the terminal (or from stdin), for passwd --hash and runbooks')
    .option('--password-stdin', 'read the password from stdin (one trailing newline is dropped)')
    .option('--rounds <n>', 'rounds (1000 to 999999999; default: the implicit 5000)')
    .action(async (o: { passwordStdin?: boolean; rounds?: string }) => {
      const rounds = o.rounds === undefined ? undefined : intOption('--rounds', o.rounds);
      const password = o.passwordStdin ? readPasswordStdin() : await readPasswordTty('the hash');
      checkPassword(password);
      process.stdout.write(hashPassword(password, rounds) + '\n');
    });
  examples(cmd, [
    ['rdrescue hash', 'asks for a password twice without echo and prints its $6$ hash'],
    ['rdrescue hash --password-stdin < /run/pw', 'for a runbook\'s passwd step, or passwd --hash'],
  ]);
}

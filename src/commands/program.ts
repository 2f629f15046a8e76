import { Command } from 'commander';
import { VERSION } from '../version.js';
import { examples } from './examples.js';
import { registerAll } from './index.js';

/** The whole command tree, as `rdrescue` runs it and as the man page and the shell completion describe it. */
export function createProgram(): Command {
  const program = new Command('rdrescue')
    .description('Boot-recovery toolkit: read, write and inspect initramfs images; rescue a locked-out Linux root')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerAll(program);
  examples(program, [
    ['rdrescue info', "what is in the running kernel's initramfs"],
    ['rdrescue passwd root', 'at the rd.break prompt: set the root password of the real root'],
    ['rdrescue COMMAND --help', 'options and examples of one command (also: man rdrescue)'],
  ]);
  return program;
}

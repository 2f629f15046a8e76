import type { Command } from 'commander';

/** One example of a command: the command line and what it does. */
export interface Example {
  run: string;
  does: string;
}

const byCommand = new WeakMap<Command, Example[]>();

/**
 * Ends the command's --help with its examples and keeps them for the man page
 * (src/commands/man-page.ts), so both show the same ones. Every command gets
 * two or three: `examples(cmd, [['rdrescue x …', 'what it does'], …])`.
 */
export function examples(cmd: Command, list: Array<[run: string, does: string]>): Command {
  const ex = list.map(([run, does]) => ({ run, does }));
  byCommand.set(cmd, ex);
  cmd.addHelpText('after', ['', 'Examples:', ...ex.flatMap((e) => [`  ${e.run}`, `      ${e.does}`])].join('\n'));
  return cmd;
}

export function examplesOf(cmd: Command): Example[] {
  return byCommand.get(cmd) ?? [];
}

import type { Command } from 'commander';

/**
 * Every subcommand lives in its own file and registers itself here, so the
 * order of `rdrescue --help` is the order of this list.
 */
const registrations: Array<(program: Command) => void> = [];

export function registerAll(program: Command): void {
  for (const r of registrations) r(program);
}

import type { Command } from 'commander';
import { register as info } from './info.js';
import { register as ls } from './ls.js';
import { register as cat } from './cat.js';
import { register as extract } from './extract.js';
import { register as deps } from './deps.js';
import { register as mkroot } from './mkroot.js';
import { register as sandbox } from './sandbox.js';

/**
 * Every subcommand lives in its own file and registers itself here, so the
 * order of `rdrescue --help` is the order of this list.
 */
const registrations: Array<(program: Command) => void> = [info, ls, cat, extract, deps, mkroot, sandbox];

export function registerAll(program: Command): void {
  for (const r of registrations) r(program);
}

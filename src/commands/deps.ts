import type { Command } from 'commander';
import { resolveClosure, missingError, type Closure } from '../elf/closure.js';
import { EXIT } from '../errors.js';
import { printJson } from './common.js';
import { examples } from './examples.js';

export function register(program: Command): void {
  const cmd = program
    .command('deps')
    .description(
      'list the interpreter and shared libraries programs load, like `ldd` but by reading ELF headers only ' +
        '(never runs the program or ld.so); follows RPATH/RUNPATH with $ORIGIN, ld.so.cache, the default directories',
    )
    .argument('<programs...>', 'program paths, or names looked up in PATH; #! scripts bring their interpreter')
    .option('--root <dir>', 'resolve inside this directory as if it were / (an unpacked image, a mounted system)')
    .option('--json', 'print every file with its real path, symlinks and mode as JSON')
    .addHelpText(
      'after',
      `
Search order per library, as glibc's ld.so: DT_RPATH of the needing object and of the objects that loaded it
(only objects without DT_RUNPATH), DT_RUNPATH of the needing object, /etc/ld.so.cache (or, in a root without a
cache, the directories of its /etc/ld.so.conf), then the loader's default directories. Files of another class or
machine are skipped. Not considered: LD_LIBRARY_PATH and LD_PRELOAD (settings of one run, not of the program),
glibc-hwcaps subdirectories (the portable baseline copy is chosen), libraries opened later with dlopen() (NSS
modules, plugins). A missing library is listed as "not found" and makes the exit status 1. As ldd, every program
given is handled: one that cannot be read (missing, not ELF or #!, corrupt) gets one error line and the others are
still listed; the exit status is then that of the first bad one.`,
    )
    .action((programs: string[], o: { root?: string; json?: boolean }) => {
      const closure = resolveClosure(programs, { root: o.root, allowMissing: true, keepGoing: true });
      if (o.json) printJson(closure);
      else process.stdout.write(formatDeps(closure));
      const lines = new Set([...closure.errors.map((e) => e.message), ...closure.missing.map((m) => missingError(m, closure.root).message)]);
      for (const l of lines) process.stderr.write(`rdrescue: ${l}\n`);
      if (closure.errors.length) process.exitCode = closure.errors[0].exitCode;
      else if (closure.missing.length) process.exitCode = EXIT.failure;
    });
  examples(cmd, [
    ['rdrescue deps /usr/sbin/cryptsetup', 'the libraries it loads, as ldd lists them, without running it'],
    ['rdrescue deps --root /mnt/broken /usr/bin/bash', 'resolved inside another root, as its own ld.so would'],
  ]);
}

/** ldd's layout: "name => path" per library in load order, then the interpreter; a header per program when there are several. */
export function formatDeps(c: Closure): string {
  const lines: string[] = [];
  for (const p of c.programs) {
    if (c.programs.length + c.errors.length > 1) lines.push(`${p.path}:`);
    if (p.linkage === 'static') lines.push('\tnot a dynamic executable');
    else if (p.linkage === 'static-pie') lines.push('\tstatically linked');
    else if (p.linkage === 'script') lines.push(`\tscript, runs ${p.runs!.join(' ')}`);
    for (const l of p.libraries) lines.push(`\t${l.name} => ${l.path ?? 'not found'}`);
    if (p.interpreter) lines.push(`\t${p.interpreter}`);
  }
  return lines.map((l) => l + '\n').join('');
}

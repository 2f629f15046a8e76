import type { Command } from 'commander';
import { mkroot } from '../elf/mkroot.js';
import { printJson } from './common.js';
import { examples } from './examples.js';

export function register(program: Command): void {
  const cmd = program
    .command('mkroot')
    .description(
      'create a minimal root in DIR holding the programs, their interpreter and every shared library they load (symlinked names kept), ' +
        'plus the usr-merge links (/bin -> usr/bin, ...) of the source root, so `chroot DIR /bin/bash` works',
    )
    .argument('<dir>', 'directory to fill (created if missing); nothing is written outside it')
    .argument('<programs...>', 'PROGRAM or PROGRAM:DEST; a name is looked up in PATH; a #! script brings its interpreter')
    .option('--root <src>', 'take programs and libraries from this root instead of /')
    .option('--json', 'print what was created as JSON')
    .addHelpText(
      'after',
      `
Programs go to the path they have in the source root (a name is found in PATH: $PATH for /, the standard list
for --root); PROGRAM:DEST puts one elsewhere. A #! script brings its interpreter (and NAME for #!/usr/bin/env NAME).
When a library was found through the source root's ld.so.cache outside the default directories, DIR gets a small
/etc/ld.so.cache listing it, since ld.so reads only the cache. Nothing already in DIR is written through: a
symlink planted there is refused. A program using $ORIGIN needs /proc mounted inside the chroot (ld.so reads
/proc/self/exe).`,
    )
    .action((dir: string, programs: string[], o: { root?: string; json?: boolean }) => {
      const r = mkroot(dir, programs, { root: o.root });
      if (o.json) printJson({ dir: r.dir, entries: r.entries, programs: r.closure.programs });
      else {
        const files = r.entries.filter((e) => e.type === 'file').length;
        const links = r.entries.filter((e) => e.type === 'symlink').length;
        process.stdout.write(`${r.dir}: ${files} files, ${links} symlinks for ${r.closure.programs.map((p) => p.path).join(' ')}\n`);
      }
    });
  examples(cmd, [
    ['rdrescue mkroot /tmp/r /bin/bash /bin/ls', 'a root with bash, ls and their libraries; then: chroot /tmp/r /bin/bash'],
    ['rdrescue mkroot /tmp/r /usr/bin/bash --root /srv/sysroot', 'bash and its libraries taken from another root'],
  ]);
}

import type { Command, Help } from 'commander';
import { examplesOf } from './examples.js';

/**
 * rdrescue(1) in man(7) roff. The COMMANDS section comes from the same
 * commander definitions as --help (usage, arguments, options, examples), so
 * the two cannot drift; the other sections are written here by hand.
 * scripts/build.mjs writes it to dist/rdrescue.1.
 */
export function manPage(program: Command, version: string): string {
  const help = program.createHelp();
  const out: string[] = [
    `.TH RDRESCUE 1 "" "rdrescue ${esc(version)}" "User Commands"`,
    // Paths and options read better unbroken than hyphenated and justified.
    '.nh',
    '.ad l',
    '.SH NAME',
    'rdrescue \\- look inside Linux initramfs images and rescue locked\\-out servers',
    '.SH SYNOPSIS',
    '.B rdrescue',
    '.I command',
    '.RI [ options ]',
    '.RI [ arguments ]',
    '.br',
    '.B rdrescue',
    '.RB [ \\-\\-version | \\-\\-help ]',
    ...section('DESCRIPTION', DESCRIPTION),
    '.SH COMMANDS',
  ];
  for (const cmd of help.visibleCommands(program)) {
    if (cmd.name() === 'help') continue;
    out.push(...command(cmd, cmd.createHelp()));
  }
  out.push(...section('EXAMPLES', EXAMPLES), ...section('EXIT STATUS', EXIT_STATUS), ...section('ENVIRONMENT', ENVIRONMENT));
  out.push(...section('FILES', FILES), ...section('SEE ALSO', SEE_ALSO));
  return out.join('\n') + '\n';
}

function command(cmd: Command, help: Help): string[] {
  const out = [`.SS "${esc(help.commandUsage(cmd)).replace(/"/g, '\\(dq')}"`, text(help.commandDescription(cmd))];
  const args = help.visibleArguments(cmd);
  if (args.length) {
    out.push('.PP', 'Arguments:', '.RS');
    for (const a of args) out.push('.TP', `.I ${esc(help.argumentTerm(a))}`, text(help.argumentDescription(a)));
    out.push('.RE');
  }
  const opts = help.visibleOptions(cmd).filter((o) => o.long !== '--help');
  if (opts.length) {
    out.push('.PP', 'Options:', '.RS');
    for (const o of opts) out.push('.TP', term(help.optionTerm(o)), text(help.optionDescription(o)));
    out.push('.RE');
  }
  const ex = examplesOf(cmd);
  if (ex.length) {
    out.push('.PP', 'Examples:', '.RS');
    for (const e of ex) out.push('.TP', `\\fB${esc(e.run)}\\fR`, text(e.does));
    out.push('.RE');
  }
  return out;
}

/** `-o, --output <file>`: flags bold, placeholders italic. */
function term(t: string): string {
  return t
    .split(/(<[^>]+>|\[[^\]]+\])/)
    .map((part, i) => (i % 2 ? `\\fI${esc(part)}\\fR` : `\\fB${esc(part)}\\fR`))
    .join('');
}

/** A paragraph of plain text; a line that would start with a control character is protected. */
function text(s: string): string {
  return esc(s)
    .split('\n')
    .map((l) => (/^[.']/.test(l) ? `\\&${l}` : l))
    .join('\n');
}

/** Backslashes and dashes as man(7) wants them; anything beyond ASCII as a groff Unicode escape, so no preprocessor is needed. */
function esc(s: string): string {
  return s
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .replace(/[^\x20-\x7e\n]/gu, (c) => `\\[u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`);
}

/** A hand-written section: paragraphs separated by blank lines; `$ cmd` lines are examples, `  term: text` lines a tagged list. */
function section(title: string, body: string): string[] {
  const out = [`.SH ${title}`];
  for (const para of body.replace(/^\n+|\s+$/g, '').split(/\n\s*\n/)) {
    const lines = para.split('\n');
    if (lines[0].startsWith('$ ')) {
      out.push('.PP', '.nf', ...lines.map((l) => (l.startsWith('$ ') ? `\\fB${esc(l.slice(2))}\\fR` : text(l))), '.fi');
    } else if (lines.every((l) => /^ {2}\S[^:]*: /.test(l))) {
      for (const l of lines) {
        const [, t, d] = /^ {2}([^:]+): (.*)$/.exec(l)!;
        out.push('.TP', `.B ${esc(t)}`, text(d));
      }
    } else {
      out.push('.PP', text(lines.join('\n')));
    }
  }
  return out;
}

const DESCRIPTION = `
rdrescue reads every initramfs the Linux kernel can boot: any run of newc and crc cpio archives, early microcode parts, zero padding, and members compressed with gzip, zstd, xz, lzma, lz4 (legacy frame), bzip2 or lzo. It lists, inspects, prints, extracts, diffs and rebuilds them with decoders of its own, the way the kernel's init/initramfs.c reads them, so no external program is needed. Extraction never writes outside its destination.

It also repairs a locked-out Linux system the way the rd.break procedure does, in one command, wherever the real root is: dracut's /sysroot, initramfs-tools' /root, mkinitcpio's /new_root, or any directory given with --root on a rescue system. /etc/shadow is written atomically under the shadow-utils lock and is never lost; every change is journaled in the target and can be undone. A runbook does a whole repair unattended, also at boot.

IMAGE arguments that may be left out default to the running kernel's initramfs in /boot, else the newest image there. With no image at all, rdrescue info shows a small example image that ships with rdrescue and says so on standard error.

Every rescue command takes --root DIR, --dry-run (print exactly what would change, change nothing) and --json. Errors are one line on standard error, naming the file, segment, byte offset and cause.
`;

const EXAMPLES = `
Look inside the running kernel's initramfs, then extract and rebuild it:

$ rdrescue info
$ rdrescue ls -l /boot/initrd.img-$(uname -r) '*nvme*'
$ rdrescue extract /boot/initrd.img-$(uname -r) /tmp/rd
$ rdrescue repack /tmp/rd -o /tmp/new.img --compress zstd
$ rdrescue diff /boot/initrd.img-$(uname -r) /tmp/new.img

At the rd.break prompt (switch_root:/#), set the root password of the real root:

$ rdrescue env
$ rdrescue passwd root

From a rescue system with the broken root mounted on /mnt/broken, let alice in again and keep a missing /data from stopping the boot:

$ rdrescue unlock alice --root /mnt/broken
$ rdrescue fstab --nofail /data --root /mnt/broken
$ rdrescue status --root /mnt/broken

Plan, then apply, a runbook; or bake it into an image that applies it once at the next boot:

$ rdrescue plan fix.yaml --root /mnt/broken
$ rdrescue run fix.yaml --root /mnt/broken --yes
$ rdrescue inject /boot/initrd.img-$(uname -r) -o /boot/initrd.rescue --runbook fix.yaml

Shell completion:

$ rdrescue completion bash > /etc/bash_completion.d/rdrescue
`;

const EXIT_STATUS = `
  0: success; for diff, no difference.
  1: failure; for diff, the images differ; for run, a step failed; for deps, a library is missing.
  2: usage error: an unknown command or option, a missing or malformed argument.
  3: bad or corrupt input: a truncated or corrupt image, a malformed runbook, a program that is not ELF, no image found.
  4: refused for safety: a path out of the destination or target, a planted link, a non-empty directory in the way, no target root, a change not confirmed.
  5: lock busy: /etc/.pwd.lock or /etc/shadow.lock is held by a live process, or a stale lock without --force.

chroot and sandbox exit with the status of the command they ran; sandbox gives 128+N for a command killed by signal N and 127 for a command that is not in the tree.
`;

const ENVIRONMENT = `
  RDRESCUE_DEBUG: when set, an error prints its stack trace after the one-line message.
  SOURCE_DATE_EPOCH: repack, add and inject store no modification time later than this.
  RDRESCUE_ROOT: the target root when --root is not given (the thin launcher sets it to the root it found).
  RDRESCUE_PROGRESS_AFTER_MS: how long a run on a terminal goes before its progress line shows (default 1000; 0 shows it at once).
`;

const FILES = `
  /boot/initrd.img-VERSION, /boot/initramfs-VERSION.img: the images IMAGE defaults to (Debian and Ubuntu; Fedora, RHEL and dracut).
  TARGET/var/log/rdrescue.log: the journal of what rdrescue changed in a target; rdrescue status reads it.
  TARGET/var/lib/rdrescue/undo/: the copies that rdrescue status --undo restores.
  TARGET/etc/.pwd.lock, TARGET/etc/shadow.lock: the shadow-utils locks passwd and unlock take.
  /usr/lib/rdrescue/, /usr/bin/rdrescue: where inject and the initramfs hooks put rdrescue inside an image.
  /run/rdrescue/: the record of what rdrescue mount attached and mounted, which rdrescue umount undoes.
`;

const SEE_ALSO = `
cpio(1), bsdtar(1), lsinitrd(1), unmkinitramfs(8), lsinitramfs(8), dracut(8), mkinitramfs(8), update-initramfs(8), ldd(1), chroot(8), unshare(1), passwd(1), shadow(5), fstab(5).

The documentation in docs/ of the rdrescue sources, starting with docs/README.md.
`;

import type { Command } from 'commander';
import { checkImage } from '../check/check.js';
import { formatCheck } from '../check/report.js';
import { EXIT } from '../errors.js';
import { printJson } from './common.js';
import { examples } from './examples.js';

export function register(program: Command): void {
  const cmd = program
    .command('check')
    .description('will this initramfs boot this kernel and this root? Reads the image, the kernel\'s configuration and modules, and the target\'s fstab, crypttab and command line; says why not, with the command that fixes it')
    .argument('[image]', "initramfs image (default: the running kernel's; with --root, the newest in ROOT/boot)")
    .option('--kernel <vmlinuz|version>', "the kernel: a bzImage file (its version and embedded configuration are read) or a version (default: a UKI's own .linux, else the image's name, else its lib/modules)")
    .option('--root <dir>', 'the target root whose /etc/fstab, /etc/crypttab, command line and /boot are read (default /)')
    .option('--json', 'print {ok, image, kernel, root, findings: [{level, code, message}], notes} as JSON')
    .action(async (image: string | undefined, o: { kernel?: string; root?: string; json?: boolean }) => {
      const report = await checkImage({ image, kernel: o.kernel, root: o.root });
      if (o.json) printJson(report);
      else process.stdout.write(formatCheck(report));
      if (!report.ok) process.exitCode = EXIT.failure;
    });
  cmd.addHelpText('after', '\nExit status: 0 no error (warnings allowed), 1 at least one error, 2 usage, 3 unreadable input. Every finding code and its fix: docs/check.md.');
  examples(cmd, [
    ['rdrescue check', "the running system's own image, against / (exit 1 when it would not boot)"],
    ['rdrescue check --root /mnt/broken', 'a disk attached to a rescue host: its newest /boot image against its fstab, crypttab and command line'],
    ['rdrescue check /boot/initramfs-5.14.0-427.el9.x86_64.img --kernel /boot/vmlinuz-5.14.0-427.el9.x86_64 --json', 'one image for the kernel in that file, as {ok, image, kernel, root, findings}'],
  ]);
}

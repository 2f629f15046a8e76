import type { Command } from 'commander';
import { RdError, EXIT } from '../errors.js';
import { planChroot, runChroot, type LauncherKind } from '../rescue/chroot.js';
import { addRescueOptions, targetOf, type RescueFlags } from '../rescue/cli-support.js';
import { printJson } from './common.js';
import { examples } from './examples.js';

export function register(program: Command): void {
  const cmd = addRescueOptions(
    program
      .command('chroot')
      .description("run a command (default: the target's shell) inside the target with its own /boot, /boot/efi, /home, /var... (from its fstab, rw when the target is), proc, sys (ro), dev, dev/pts, run and resolv.conf mounted; always unmounts them afterwards, also when the command fails or is killed")
      .argument('[command...]', 'command and arguments (after --)')
      .option('--no-fstab-mounts', "do not mount the target's own /boot, /boot/efi, /home, /var, ... from its fstab (only proc, sys, dev, run)")
      .option('--via <how>', "how to enter the root: chroot, busybox, unshare, or target-chroot (the target's own chroot through its own loader); default: the first that exists"),
  ).action(async (command: string[], o: RescueFlags & { via?: string; fstabMounts?: boolean }) => {
    if (o.via !== undefined && !['chroot', 'busybox', 'unshare', 'target-chroot'].includes(o.via)) throw new RdError(`--via must be chroot, busybox, unshare or target-chroot, not ${JSON.stringify(o.via)}`, {}, EXIT.usage);
    const plan = planChroot({ root: targetOf(o).root, command, via: o.via as LauncherKind | undefined, noFstabMounts: o.fstabMounts === false });
    if (o.dryRun) {
      if (o.json) return printJson(plan);
      const lines = [...plan.mounts.map((m) => `would mount ${m.what} on ${m.target}`), `would run (via ${plan.launcherKind}): ${plan.command.join(' ')}`, ...plan.mounts.map((m) => m.target).reverse().map((t) => `would unmount ${t}`), ...plan.notes.map((n) => `note: ${n}`)];
      process.stdout.write(lines.join('\n') + '\n');
      return;
    }
    // stdout is the command's: what rdrescue mounts of the target goes to stderr, before the command runs
    for (const m of plan.mounts.filter((x) => x.fstab)) process.stderr.write(`rdrescue: mounting the target's ${m.what}\n`);
    const r = await runChroot(plan);
    for (const n of r.notes) process.stderr.write(`rdrescue: note: ${n}\n`);
    if (o.json) printJson(r);
    process.exitCode = r.exitCode;
  });
  examples(cmd, [
    ['rdrescue chroot', 'the target\'s shell, with proc, sys, dev and run mounted and unmounted afterwards'],
    ['rdrescue chroot -- dracut -f --regenerate-all', 'rebuild the target\'s initramfs images from inside it'],
    ['rdrescue chroot --dry-run --root /mnt/broken', 'what would be mounted and run'],
  ]);
}

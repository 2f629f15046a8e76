import type { Command } from 'commander';
import { RdError, EXIT } from '../errors.js';
import { addRescueOptions, runPlan, targetOf, type RescueFlags } from '../rescue/cli-support.js';
import { fstabCheck, planFstabDisable, planFstabNofail } from '../rescue/fstab.js';
import { printJson } from './common.js';
import { examples } from './examples.js';

export function register(program: Command): void {
  const cmd = addRescueOptions(
    program
      .command('fstab')
      .description("check the target's /etc/fstab for entries that would fail at boot (missing device, mount point or filesystem type; exit 1 when one would), or fix one: comment it out, or add nofail (a backup is kept); the \"/\" line is never changed")
      .option('--check', 'list entries and problems (the default)')
      .option('--disable <mountpoint>', 'comment out the entry for this mount point')
      .option('--nofail <mountpoint>', 'add nofail to the entry for this mount point')
      .option('--force', 'write to a filesystem whose superblock records errors'),
  ).action(async (o: RescueFlags & { check?: boolean; disable?: string; nofail?: string }) => {
    const picked = [o.check, o.disable, o.nofail].filter((x) => x !== undefined).length;
    if (picked > 1) throw new RdError('give one of --check, --disable, --nofail', {}, EXIT.usage);
    const root = targetOf(o).root;
    if (o.disable !== undefined) return runPlan(planFstabDisable(root, o.disable), o);
    if (o.nofail !== undefined) return runPlan(planFstabNofail(root, o.nofail), o);
    const entries = fstabCheck(root);
    // a check that finds the boot would stop is a failed check: scripts and runbooks can tell
    if (entries.some((e) => e.blocksBoot)) process.exitCode = EXIT.failure;
    if (o.json) return printJson(entries);
    const lines = entries.map((e) => {
      const state = e.problems.length ? (e.blocksBoot ? 'FAILS BOOT' : 'problem (nofail/noauto)') : 'ok';
      return `${String(e.line).padStart(3)}  ${e.mountPoint.padEnd(16)} ${e.fsType.padEnd(6)} ${e.spec}  ${state}${e.problems.length ? `: ${e.problems.join('; ')}` : ''}`;
    });
    const bad = entries.filter((e) => e.blocksBoot);
    const fixable = bad.filter((e) => e.mountPoint !== '/');
    if (bad.length) lines.push(`${bad.length} entr${bad.length === 1 ? 'y' : 'ies'} would stop the boot${fixable.length ? `; fix with: ${fixable.map((e) => `rdrescue fstab --nofail ${e.mountPoint.startsWith('/') ? e.mountPoint : e.spec}`).join(', ')} (or --disable)` : ''}${fixable.length < bad.length ? `${fixable.length ? '; ' : ': '}the "/" line is edited by hand, never disabled` : ''}`);
    process.stdout.write(lines.join('\n') + '\n');
  });
  examples(cmd, [
    ['rdrescue fstab', 'the entries of the target\'s fstab and which would stop the boot'],
    ['rdrescue fstab --nofail /data', 'keep booting when /data is missing'],
    ['rdrescue fstab --disable /mnt/nfs --root /mnt/broken', 'comment an entry out (a backup is kept)'],
  ]);
}

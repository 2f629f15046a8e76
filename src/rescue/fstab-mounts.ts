import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemVolumes, type Volume } from '../host/block-devices.js';
import { parseFstab, planMounts } from '../host/mount-plan.js';
import { mountOf, readMountinfo, runMount, runUmount, type MountInfo } from './mounts.js';
import { resolveInRoot } from './target.js';

/**
 * The target's own local filesystems (/boot, /boot/efi, /home, a separate
 * /var, ...) mounted inside it while repair work runs, as its own boot
 * would: `dracut -f` or `grub2-mkconfig` in a chroot, or a runbook's
 * ssh-key, must write onto the real /boot or /home, not into the root
 * filesystem's empty directory that the real one hides at the next boot.
 * Devices are found as the kernel names them (UUID=, LABEL=, PARTUUID=,
 * PARTLABEL=, /dev/disk/by-*, plain names) by probing the superblocks
 * (src/host/resolve.ts), so a host without udev or blkid works.
 * Read-write exactly when the target root is.
 */
export interface FstabMount {
  /** Mount point inside the target ("/boot"). */
  target: string;
  /** Arguments for mount(8), the host path last. */
  args: string[];
  /** For people: "/boot: UUID=… (/dev/loop3, ext4, rw), fstab line 3". */
  what: string;
}

export interface FstabMountPlan {
  mounts: FstabMount[];
  notes: string[];
  /** Filesystems the target's boot mounts (no nofail) that cannot be mounted here, with the reason: work under them would land in the root filesystem's directory. */
  blocked: string[];
}

function within(path: string, mountPoint: string): boolean {
  return path === mountPoint || path.startsWith(`${mountPoint}/`);
}

/**
 * What to mount for work inside `root`; with `under`, only the fstab
 * mount points that hold one of those paths (a runbook step's files).
 */
export function planFstabMounts(root: string, o: { under?: string[]; mounts?: MountInfo[]; volumes?: Volume[] } = {}): FstabMountPlan {
  const notes: string[] = [];
  let text: string;
  try {
    text = readFileSync(resolveInRoot(root, '/etc/fstab'), 'latin1');
  } catch {
    return { mounts: [], notes: ['the target has no /etc/fstab: none of its filesystems mounted'], blocked: [] };
  }
  const entries = parseFstab(text).filter((e) => e.mountPoint !== '/' && (!o.under || o.under.some((p) => within(p, e.mountPoint.replace(/\/+$/, '')))));
  if (!entries.length) return { mounts: [], notes, blocked: [] };
  const table = o.mounts ?? readMountinfo();
  const rootMount = mountOf(root, table);
  const mode = rootMount?.readOnly ? 'ro' : 'rw';
  const plan = planMounts(entries, o.volumes ?? systemVolumes());
  // swap and memory filesystems hold nothing repair work writes: not worth a line on every chroot
  notes.push(...plan.notes.filter((n) => !/swap is not needed|lives in memory/.test(n)));
  if (!o.under) notes.push(...plan.warnings.map((w) => `warning: ${w}`));
  const blocked = o.under ? [...plan.warnings] : [];
  const mounted = new Set(table.map((m) => m.mountPoint));
  const mounts: FstabMount[] = [];
  for (const m of plan.mounts) {
    const mp = m.entry.mountPoint.replace(/\/+$/, '');
    const host = resolveInRoot(root, mp);
    const line = `fstab line ${m.entry.line}`;
    // a mount point that is a symlink in the target would put the mount where the target chose
    if (host !== join(root, mp)) notes.push(`${line}: ${mp} is a symbolic link in the target; not mounted`);
    else if (mounted.has(host)) notes.push(`${line}: ${mp} is already mounted (rdrescue mount, or by hand); left as it is`);
    else if (!existsSync(host)) notes.push(`${line}: the mount point ${mp} does not exist in the target; not mounted`);
    else if (!m.volume.device) blocked.push(`${line}: ${mp}: ${m.entry.spec} has no device node here`);
    // "partition 2 of the disk being rescued" is a guess rdrescue mount may make for one disk; here every disk of the host is a candidate
    else if (m.note) blocked.push(`${line}: ${mp}: ${m.entry.spec} names no device here`);
    else {
      const fsType = m.entry.fsType === 'auto' ? m.volume.type : m.entry.fsType;
      const options = [mode, ...m.options];
      mounts.push({
        target: mp,
        args: [...(fsType ? ['-t', fsType] : []), '-o', options.join(','), m.volume.device, host],
        what: `${mp}: ${m.entry.spec} (${m.volume.device}${fsType ? `, ${fsType}` : ''}, ${options.join(',')}), ${line}`,
      });
    }
  }
  if (!o.under) notes.push(...blocked.map((b) => `${b}; not mounted`));
  return { mounts, notes, blocked };
}

/** Mounts in order; on a failure, unmounts what this call mounted and throws, naming the line mount printed. */
export function mountAll(mounts: FstabMount[]): FstabMount[] {
  const done: FstabMount[] = [];
  try {
    for (const m of mounts) {
      runMount(m.args);
      done.push(m);
    }
  } catch (e) {
    unmountAll(done, []);
    throw e;
  }
  return done;
}

/** Unmounts in reverse; a busy one is detached (lazy) and said so. */
export function unmountAll(done: Array<{ target: string; args: string[] }>, notes: string[]): void {
  for (const m of [...done].reverse()) {
    const host = m.args[m.args.length - 1];
    if (runUmount(host)) continue;
    // something inside still holds it (a daemon the command started); detach so the target can be unmounted later
    if (runUmount(host, true)) notes.push(`${m.target} was busy; detached it (lazy unmount)`);
    else notes.push(`could not unmount ${host}`);
  }
}

import { unescapeOctal } from '../rescue/mounts.js';
import type { Volume } from './block-devices.js';
import { resolveSpec } from './resolve.js';

/**
 * Which of the target's own fstab entries to mount for a repair, and which
 * to leave out (each with the reason): what the target itself would mount
 * at boot that lives on the disk being rescued: /boot, /boot/efi, /usr,
 * /var and the other local filesystems.
 */
export interface FstabLine {
  line: number;
  spec: string;
  mountPoint: string;
  fsType: string;
  options: string[];
}

export interface PlannedMount {
  entry: FstabLine;
  volume: Volume;
  /** Options for mount(8), ro/rw left to the caller. */
  options: string[];
  note?: string;
}

export interface MountPlan {
  /** The "/" line, when the fstab has one. */
  root?: FstabLine;
  mounts: PlannedMount[];
  notes: string[];
  /** Entries whose device is not on this disk and that the target's boot waits for. */
  warnings: string[];
}

const NETWORK = new Set(['nfs', 'nfs4', 'cifs', 'smb3', 'smbfs', 'sshfs', 'glusterfs', 'ceph', '9p', 'virtiofs', 'davfs', 'afs', 'ncpfs']);
const MEMORY = new Set(['tmpfs', 'ramfs', 'proc', 'sysfs', 'devtmpfs', 'devpts', 'efivarfs', 'securityfs', 'debugfs', 'tracefs', 'hugetlbfs', 'cgroup', 'cgroup2', 'binfmt_misc', 'mqueue', 'configfs', 'pstore', 'bpf']);
/** Options that decide what is mounted (a btrfs subvolume), as opposed to how the target likes it at run time. */
const KEPT_OPTIONS = /^(subvol|subvolid)=/;

export function parseFstab(text: string): FstabLine[] {
  const out: FstabLine[] = [];
  text.split('\n').forEach((l, i) => {
    if (/^\s*(#|$)/.test(l)) return;
    const f = l.trim().split(/\s+/);
    if (f.length < 2) return;
    out.push({ line: i + 1, spec: unescapeOctal(f[0]), mountPoint: unescapeOctal(f[1]), fsType: f[2] ?? 'auto', options: (f[3] ?? 'defaults').split(',') });
  });
  return out;
}

export function btrfsSubvolOptions(e: FstabLine | undefined): string[] {
  return e ? e.options.filter((o) => KEPT_OPTIONS.test(o)) : [];
}

export function planMounts(fstab: FstabLine[], volumes: Volume[]): MountPlan {
  const plan: MountPlan = { mounts: [], notes: [], warnings: [] };
  const skip = (e: FstabLine, why: string) => plan.notes.push(`fstab line ${e.line}: ${e.mountPoint}: ${why}; not mounted`);
  for (const e of fstab) {
    if (e.mountPoint === '/') {
      plan.root = e;
      continue;
    }
    if (e.fsType === 'swap' || e.mountPoint === 'none' || e.mountPoint === 'swap') {
      if (e.fsType === 'swap') skip({ ...e, mountPoint: e.spec }, 'swap is not needed for a repair');
      continue;
    }
    if (NETWORK.has(e.fsType) || e.fsType.startsWith('fuse') || /^[^/=]+:/.test(e.spec) || e.spec.startsWith('//')) {
      skip(e, `a network filesystem (${e.fsType})`);
      continue;
    }
    if (MEMORY.has(e.fsType)) {
      skip(e, `${e.fsType} lives in memory, nothing on disk`);
      continue;
    }
    if (e.options.includes('bind') || e.options.includes('rbind')) {
      skip(e, 'a bind mount');
      continue;
    }
    if (!e.mountPoint.startsWith('/')) {
      skip(e, 'the mount point is not an absolute path');
      continue;
    }
    const r = resolveSpec(e.spec, volumes, { partitionNumbers: true });
    if (!r) {
      const soft = e.options.includes('nofail') || e.options.includes('noauto');
      if (soft) skip(e, `${e.spec} is not on this disk (nofail: the target boots without it)`);
      else plan.warnings.push(`fstab line ${e.line}: ${e.mountPoint}: ${e.spec} is not on this disk; the target's boot waits for it and stops (see rdrescue fstab --check, then --nofail or --disable)`);
      continue;
    }
    plan.mounts.push({ entry: e, volume: r.volume, options: e.options.filter((o) => KEPT_OPTIONS.test(o)), note: r.note });
  }
  // parents before children: /boot before /boot/efi, whatever the order in the file
  plan.mounts.sort((a, b) => a.entry.mountPoint.split('/').length - b.entry.mountPoint.split('/').length);
  return plan;
}

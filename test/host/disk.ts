import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Whole-disk images made with the real tools (sfdisk, mkfs.*), laid out
 * the way installers do it, for `rdrescue mount` to find its way through.
 * Each partition is formatted through a loop device with an offset, as this
 * kernel makes no partition devices for loops.
 */
export type FsKind = 'ext4' | 'xfs' | 'btrfs' | 'swap';

export interface PartSpec {
  sizeMiB: number;
  fs?: FsKind;
  label?: string;
  uuid?: string;
  /** GPT partition name (PARTLABEL). */
  name?: string;
  /** btrfs subvolumes to create at the top level. */
  subvolumes?: string[];
  /** Fills the mounted filesystem (top level for btrfs). */
  fill?: (mnt: string) => void;
}

export interface Disk {
  image: string;
  dir: string;
  parts: Array<{ offset: number; size: number }>;
  cleanup(): void;
}

export function sh(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] }).trim();
}

const live = new Set<Disk>();
process.on('exit', () => {
  for (const d of live) d.cleanup();
});

/** Runs `fn` on the range mounted read-write (or just attached, without `mnt`), always detaching. */
export function withRange<T>(image: string, p: { offset: number; size: number }, fn: (loop: string) => T): T {
  const loop = sh('losetup', ['-f', '--show', '-o', String(p.offset), '--sizelimit', String(p.size), image]);
  try {
    return fn(loop);
  } finally {
    sh('losetup', ['-d', loop]);
  }
}

export function withMounted<T>(image: string, p: { offset: number; size: number }, fn: (mnt: string) => T, opts: string[] = []): T {
  return withRange(image, p, (loop) => {
    const mnt = mkdtempSync(join(tmpdir(), 'rdrescue-fill-'));
    sh('mount', [...(opts.length ? ['-o', opts.join(',')] : []), loop, mnt]);
    try {
      return fn(mnt);
    } finally {
      sh('umount', [mnt]);
      rmSync(mnt, { recursive: true });
    }
  });
}

function mkfs(loop: string, p: PartSpec): void {
  switch (p.fs) {
    case 'ext4':
      sh('mkfs.ext4', ['-q', '-F', ...(p.label ? ['-L', p.label] : []), ...(p.uuid ? ['-U', p.uuid] : []), loop]);
      break;
    case 'xfs':
      sh('mkfs.xfs', ['-q', '-f', ...(p.label ? ['-L', p.label] : []), ...(p.uuid ? ['-m', `uuid=${p.uuid}`] : []), loop]);
      break;
    case 'btrfs':
      sh('mkfs.btrfs', ['-q', '-f', ...(p.label ? ['-L', p.label] : []), ...(p.uuid ? ['-U', p.uuid] : []), loop]);
      break;
    case 'swap':
      sh('mkswap', [...(p.label ? ['-L', p.label] : []), ...(p.uuid ? ['-U', p.uuid] : []), loop]);
      break;
  }
}

export function buildDisk(table: 'gpt' | 'mbr', parts: PartSpec[]): Disk {
  const dir = mkdtempSync(join(tmpdir(), 'rdrescue-disk-'));
  const image = join(dir, 'disk.img');
  const total = 2 + parts.reduce((a, p) => a + p.sizeMiB, 0) + (table === 'gpt' ? 1 : 0);
  sh('truncate', ['-s', `${total}M`, image]);
  const script = [`label: ${table === 'gpt' ? 'gpt' : 'dos'}`, ...parts.map((p) => `size=${p.sizeMiB}MiB${p.name ? `, name="${p.name}"` : ''}${table === 'mbr' && p.fs === 'swap' ? ', type=82' : ''}`)].join('\n');
  sh('sfdisk', ['-q', image], script + '\n');
  const layout = JSON.parse(sh('sfdisk', ['-J', image])).partitiontable;
  const ss: number = layout.sectorsize ?? 512;
  const ranges = (layout.partitions as Array<{ start: number; size: number }>).map((x) => ({ offset: x.start * ss, size: x.size * ss }));
  parts.forEach((p, i) => {
    if (!p.fs) return;
    withRange(image, ranges[i], (loop) => mkfs(loop, p));
    if (p.subvolumes?.length || p.fill) {
      withMounted(image, ranges[i], (mnt) => {
        for (const s of p.subvolumes ?? []) sh('btrfs', ['-q', 'subvolume', 'create', join(mnt, s)]);
        p.fill?.(mnt);
      });
    }
  });
  const d: Disk = {
    image,
    dir,
    parts: ranges,
    cleanup() {
      live.delete(d);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  live.add(d);
  return d;
}

const FIXTURE = join(import.meta.dirname, '..', '..', 'fixtures', 'rescue', 'rhel');

/** A Linux root at `dir`: the rhel fixture (passwd, shadow, group), an os-release and an fstab. */
export function writeRoot(dir: string, o: { name: string; fstab: string[]; dirs?: string[] }): void {
  cpSync(join(FIXTURE, 'etc'), join(dir, 'etc'), { recursive: true });
  writeFileSync(join(dir, 'etc/os-release'), `NAME="${o.name}"\nPRETTY_NAME="${o.name} 9"\nID=test\n`);
  writeFileSync(join(dir, 'etc/fstab'), o.fstab.join('\n') + '\n');
  for (const d of ['boot', 'home', 'var', 'proc', 'sys', 'dev', 'run', 'tmp', 'root', ...(o.dirs ?? [])]) mkdirSync(join(dir, d), { recursive: true });
}

export function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** blkid's view of a range (the oracle for our probes): TYPE, UUID, LABEL, PARTUUID… */
export function blkid(image: string, p: { offset: number; size: number }): Record<string, string> {
  return withRange(image, p, (loop) => {
    const r = spawnSync('blkid', ['-p', '-o', 'export', loop], { encoding: 'utf8' });
    return Object.fromEntries(r.stdout.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  });
}

export function loopsOf(image: string): string[] {
  return sh('losetup', ['-j', image]).split('\n').filter(Boolean);
}

export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m) => m && (m === dir || m.startsWith(`${dir}/`)));
}

export interface LvSpec {
  name: string;
  sizeMiB: number;
  fs?: FsKind;
  uuid?: string;
  label?: string;
  fill?: (mnt: string) => void;
}

/**
 * A VG with linear LVs on a partition, made without device-mapper (this
 * kernel has none, and lvcreate insists on it): pvcreate and vgcreate, then
 * the LVs written into the metadata with vgcfgrestore, each formatted
 * through a loop at its offset in the PV. Returns each LV's byte range.
 */
export function makeVolumeGroup(image: string, part: { offset: number; size: number }, vg: string, lvs: LvSpec[]): Array<{ offset: number; size: number }> {
  const env = { ...process.env, LVM_SUPPRESS_FD_WARNINGS: '1' };
  const lvm = (args: string[], input?: string) => execFileSync('lvm', args, { encoding: 'utf8', env, input, stdio: ['pipe', 'pipe', 'pipe'] }).trim();
  return withRange(image, part, (loop) => {
    const dev = ['--devices', loop];
    lvm(['pvcreate', '-q', ...dev, loop]);
    lvm(['vgcreate', '-q', '-s', '1m', ...dev, vg, loop]);
    const backup = `${image}.${vg}.vg`;
    lvm(['vgcfgbackup', '-q', ...dev, '-f', backup, vg]);
    const peStart = Number(lvm(['pvs', ...dev, '--noheadings', '--units', 'b', '--nosuffix', '-o', 'pe_start', loop]));
    let pe = 0;
    const body = lvs
      .map((l, i) => {
        const text = `${l.name} {\nid = "LvId${i}X-aaaa-bbbb-cccc-dddd-eeee-ffffff"\nstatus = ["READ", "WRITE", "VISIBLE"]\nflags = []\nsegment_count = 1\nsegment1 {\nstart_extent = 0\nextent_count = ${l.sizeMiB}\ntype = "striped"\nstripe_count = 1\nstripes = [\n"pv0", ${pe}\n]\n}\n}\n`;
        pe += l.sizeMiB;
        return text;
      })
      .join('');
    const text = readFileSync(backup, 'utf8');
    const pvEnd = text.indexOf('\n\t}\n', text.indexOf('physical_volumes')) + 4;
    writeFileSync(backup, `${text.slice(0, pvEnd)}\nlogical_volumes {\n${body}}\n${text.slice(pvEnd)}`);
    lvm(['vgcfgrestore', '-q', ...dev, '-f', backup, vg]);
    rmSync(backup);
    let at = 0;
    return lvs.map((l) => {
      const range = { offset: part.offset + peStart + at * 1024 * 1024, size: l.sizeMiB * 1024 * 1024 };
      at += l.sizeMiB;
      if (l.fs) withRange(image, range, (lvLoop) => mkfs(lvLoop, { sizeMiB: l.sizeMiB, fs: l.fs, uuid: l.uuid, label: l.label }));
      if (l.fill) withMounted(image, range, l.fill);
      return range;
    });
  });
}

/** RHEL's default layout: GPT, /boot ext4 (LABEL=boot), then a PV with VG rhel holding an XFS root and swap. */
export function rhelOnLvm(rootUuid?: string): { d: Disk; lvs: Array<{ offset: number; size: number }> } {
  const d = buildDisk('gpt', [{ sizeMiB: 24, fs: 'ext4', label: 'boot', fill: (m) => writeFileSync(join(m, 'vmlinuz-5.14'), 'k') }, { sizeMiB: 340, name: 'lvm' }]);
  const lvs = makeVolumeGroup(d.image, d.parts[1], 'rhel', [
    { name: 'root', sizeMiB: 300, fs: 'xfs', uuid: rootUuid, fill: (m) => writeRoot(m, { name: 'Red Hat Enterprise Linux', fstab: ['/dev/mapper/rhel-root / xfs defaults 0 0', 'LABEL=boot /boot ext4 defaults 1 2', '/dev/mapper/rhel-swap none swap defaults 0 0'] }) },
    { name: 'swap', sizeMiB: 16, fs: 'swap' },
  ]);
  return { d, lvs };
}

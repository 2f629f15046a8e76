import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { RdError, EXIT } from '../errors.js';
import { readMountinfo, runMount, type MountInfo } from '../rescue/mounts.js';
import { pausePoint } from '../rescue/test-pause.js';
import { readTargetText, resolveInRoot } from '../rescue/target.js';
import { devicesInUse, listBlockDevices, probeVolume, readDiskLayout, type BlockDevice, type DiskLayout, type Volume } from './block-devices.js';
import { logicalVolumes } from './lvm.js';
import { addCrypttabNames, openLuks, type LuksKey } from './luks.js';
import { LINUX_FS, linuxRootAt, topLevelSubvolumes, type RootCandidate } from './find-root.js';
import { Holder } from './holder.js';
import { btrfsSubvolOptions, parseFstab, planMounts } from './mount-plan.js';
import { readRecords, RECORD_DIR, removeRecord, saveRecord, type HeldMount, type Step } from './record.js';
import { resolveSpec } from './resolve.js';

/**
 * `rdrescue mount`: find the broken server's root on a disk, an image or a
 * partition, and mount it with what its own fstab needs for a repair,
 * read-only (read-only loop devices) until a change is asked for.
 */
export interface MountDiskOptions {
  /** A disk, partition or image file; undefined: scan this machine's unused disks. */
  source?: string;
  /** Where to mount the root (default: the first free /mnt/rdrescue, /mnt/rdrescue-2, …). */
  at?: string;
  rw?: boolean;
  /** The key for LUKS volumes on the disk (the same one is tried on each); without it they stay closed, with a note. */
  luks?: LuksKey;
  /** Which root, when the source holds several: a partition number, UUID=, LABEL=, PARTUUID=, PARTLABEL=. */
  volume?: string;
}

/** Several roots: the caller lists them and asks for one (exit 2). */
export class SeveralRootsError extends RdError {
  constructor(readonly candidates: Array<RootCandidate & { source: string }>) {
    super(`${candidates.length} Linux roots found; name one with --volume (a partition number, UUID=… or LABEL=…)${candidates.some((c) => c.source !== candidates[0].source) ? ' and the disk as SOURCE' : ''}`, {}, EXIT.usage);
  }
}

interface Disk {
  path: string;
  layout: DiskLayout;
  /** The partitions (or the whole disk) and the logical volumes on them. */
  volumes: Volume[];
  /** What could not be made sense of (an LV rdrescue cannot read). */
  notes: string[];
}

function readDisk(path: string): Disk {
  const layout = readDiskLayout(path);
  const lvm = logicalVolumes(layout.volumes);
  return { path, layout, volumes: [...layout.volumes, ...lvm.volumes], notes: lvm.notes };
}

function realSource(source: string): string {
  try {
    return realpathSync(source);
  } catch {
    throw new RdError('no such disk, partition or image', { file: source }, EXIT.badInput);
  }
}

/** Refuses a source the host is already using: mounted, swapped on, stacked under device-mapper, or held by another `rdrescue mount`. */
function refuseInUse(path: string, devices: BlockDevice[], used: Set<string>, mounts: MountInfo[]): void {
  const held = readRecords().find((r) => r.source === path);
  if (held) throw new RdError(`already mounted by rdrescue on ${held.at} (rdrescue umount ${held.at})`, { file: path }, EXIT.refused);
  const isFile = statSync(path).isFile();
  const mine = devices.filter((d) => (isFile ? d.backingFile === path : d.path === path || `/dev/${d.disk}` === path || `/dev/${d.name}` === path));
  const family = new Set(mine.flatMap((d) => [d.name, ...devices.filter((x) => x.disk === d.name || x.backingFile === path).map((x) => x.name)]));
  for (const name of family) {
    const d = devices.find((x) => x.name === name)!;
    const where = mounts.find((m) => m.majorMinor === d.majMin)?.mountPoint;
    if (where || used.has(name) || d.holders.length) {
      const how = where ? `mounted on ${where}` : d.holders.length ? `held by ${d.holders.map((h) => `/dev/${h}`).join(', ')}` : 'in use by this system';
      throw new RdError(`${isFile ? `is attached as ${d.path}, ` : d.path !== path ? `${d.path} is ` : 'is '}${how}; mounting it a second time could corrupt it. Unmount it first, or use that mount with --root`, { file: path }, EXIT.refused);
    }
  }
}

/**
 * The whole disks this machine is not using: the ones a rescue host has
 * been given. A loop device over part of a file is a partition someone is
 * working on (trial-mounting it could collide with their mount), not a disk.
 */
function unusedDisks(devices: BlockDevice[], used: Set<string>): string[] {
  const heldLoops = new Set(readRecords().flatMap((r) => r.steps.flatMap((s) => (s.kind === 'loop' ? [s.device] : []))));
  return devices
    .filter((d) => d.disk === undefined && !d.loopRange && !used.has(d.name) && !heldLoops.has(d.path) && !d.holders.length && !/^(zram|ram|sr|fd|dm-|md)/.test(d.name))
    .filter((d) => !devices.some((p) => p.disk === d.name && (used.has(p.name) || p.holders.length)))
    .map((d) => d.path);
}

/** UUIDs of the XFS filesystems the host has mounted: the target's twin needs nouuid next to them. */
function mountedXfsUuids(mounts: MountInfo[]): Set<string> {
  const out = new Set<string>();
  for (const m of mounts) {
    if (m.fsType !== 'xfs' || !m.source.startsWith('/dev/')) continue;
    try {
      const v = probeVolume(m.source);
      if (v.uuid) out.add(v.uuid);
    } catch {
      /* a device we cannot read is no twin we could collide with */
    }
  }
  return out;
}

function freeMountDir(): string {
  for (let i = 1; ; i++) {
    const dir = i === 1 ? '/mnt/rdrescue' : `/mnt/rdrescue-${i}`;
    if (readRecords().some((r) => r.at === dir) || readMountinfo().some((m) => m.mountPoint === dir)) continue;
    return dir;
  }
}

/** How a volume can be named to the user and to a repair tool. */
function describe(v: Volume, disk: Disk): string {
  if (v.container) return v.container;
  if (v.lv) return `LV ${v.lv} on ${disk.path}`;
  return v.partNumber === undefined ? disk.path : `${disk.path} partition ${v.partNumber}`;
}

function repairHint(v: Volume, disk: Disk): string {
  const tool = v.type === 'xfs' ? 'xfs_repair' : v.type === 'btrfs' ? 'btrfs check' : `fsck.${v.type} -f`;
  if (v.container) return `${tool} ${v.aliases[0]} (while it is open: cryptsetup open)`;
  const attach = v.partNumber === undefined && !v.lv ? disk.path : `$(losetup -f --show -o ${v.range.offset} --sizelimit ${v.range.size} ${disk.path})`;
  // xfs_repair refuses a dirty log (and -L throws it away): the log is replayed by a writable mount first
  return v.type === 'xfs' ? `rdrescue mount --rw (replays the log), umount, then ${tool} ${attach}` : `${tool} ${attach}`;
}

/**
 * Mounts one volume, read-only as the loop is, falling back to skipping the
 * journal replay the read-only device cannot take (XFS norecovery, ext
 * noload, btrfs nologreplay); that is said, with the repair command.
 */
function mountVolume(h: Holder, device: string, v: Volume, disk: Disk, target: string, base: string[], readOnly: boolean, what: string, notes: string[]): void {
  const ro = readOnly ? ['ro'] : [];
  const skipReplay = v.type === 'xfs' ? 'norecovery' : v.type === 'btrfs' ? 'rescue=nologreplay' : 'noload';
  if (readOnly && v.needsRecovery) {
    h.mount(device, target, v.type!, [...ro, skipReplay, ...base], what);
  } else {
    try {
      h.mount(device, target, v.type!, [...ro, ...base], what);
      return;
    } catch (e) {
      if (!readOnly) throw e;
      try {
        h.mount(device, target, v.type!, [...ro, skipReplay, ...base], what);
      } catch {
        throw e;
      }
    }
  }
  notes.push(`${what} (${describe(v, disk)}, ${v.type}) was not cleanly unmounted: mounted without replaying its journal, so its last changes are not visible; they are replayed when it is made writable (rdrescue mount --rw, or a fixing command); to check it instead, after rdrescue umount: ${repairHint(v, disk)}`);
}

interface Session {
  holder: Holder;
  xfsUuids: Set<string>;
  /** The loop of each volume already attached, so btrfs subvolumes of one filesystem share one device. */
  devices: Map<Volume, string>;
}

function deviceFor(s: Session, v: Volume, readOnly: boolean): string {
  let d = s.devices.get(v);
  if (!d) {
    d = s.holder.attach({ path: v.range.path, offset: v.range.offset, size: v.range.size, readOnly });
    s.devices.set(v, d);
  }
  return d;
}

function xfsOptions(s: Session, v: Volume): string[] {
  if (v.type !== 'xfs' || !v.uuid) return [];
  const twin = s.xfsUuids.has(v.uuid);
  s.xfsUuids.add(v.uuid);
  return twin ? ['nouuid'] : [];
}

/** A root found by a trial mount that is still in place, to be moved where the user wants it instead of mounted twice. */
interface Probe {
  dir: string;
  /** The steps of the trial: the loop, the directory, the mount. */
  steps: Step[];
  notes: string[];
}

type Found = RootCandidate & { probe?: Probe };

/**
 * Trial-mounts each Linux filesystem of a disk read-only under /run and
 * looks for roots. A root seen in the mount as it stands (not a btrfs
 * subvolume below it) stays mounted when `keep` says so; every other trial
 * is undone at once.
 */
function findRoots(s: Session, disk: Disk, probeDir: string, keep: boolean): Found[] {
  const found: Found[] = [];
  disk.volumes.forEach((v, i) => {
    if (!v.type || !LINUX_FS.has(v.type)) return;
    const start = s.holder.record.steps.length;
    const dir = `${probeDir}-${i}`;
    let kept = false;
    try {
      const dev = deviceFor(s, v, true);
      s.holder.mkdir(dir);
      const base = v.type === 'xfs' && v.uuid && s.xfsUuids.has(v.uuid) ? ['nouuid'] : [];
      const notes: string[] = [];
      mountVolume(s.holder, dev, v, disk, dir, base, true, '/', notes);
      const here = linuxRootAt(dir);
      if (here) {
        kept = keep;
        found.push({ volume: v, ...here, probe: kept ? { dir, steps: s.holder.record.steps.slice(start), notes } : undefined });
      } else if (v.type === 'btrfs') {
        // not in the default subvolume: look at the top level's subvolumes (@, root, …)
        s.holder.rollback(s.holder.record.steps.length - 1);
        mountVolume(s.holder, dev, v, disk, dir, ['subvolid=5'], true, '/', []);
        for (const sub of topLevelSubvolumes(dir)) {
          const r = linuxRootAt(join(dir, sub));
          if (r) found.push({ volume: v, subvol: sub, ...r });
        }
      }
    } catch {
      // a filesystem this kernel cannot mount is no root we can rescue from here
    } finally {
      if (!kept) {
        s.holder.rollback(start);
        s.devices.delete(v);
      }
    }
  });
  return found;
}

/** Opens the disk's LUKS volumes with the key given, adding what is inside (a filesystem, or LVM) to its volumes. */
function openContainers(s: Session, disk: Disk, key: LuksKey | undefined): void {
  for (const v of disk.volumes.filter((x) => x.type === 'crypto_LUKS')) {
    const what = describe(v, disk);
    if (!key) {
      disk.notes.push(`${what} is LUKS${v.luksVersion ?? ''}-encrypted and was not opened: give --passphrase-stdin or --key-file, or run rdrescue mount on a terminal`);
      continue;
    }
    const inner = openLuks(s.holder, v, key, what);
    const lvm = logicalVolumes([inner]);
    disk.volumes.push(inner, ...lvm.volumes);
    disk.notes.push(...lvm.notes);
  }
}

/** Puts a kept trial mount where the root belongs (mount --move) and forgets the trial directory. */
function moveProbe(s: Session, p: Probe, at: string): void {
  const h = s.holder;
  const trial = p.steps.find((x): x is Extract<Step, { kind: 'mount' }> => x.kind === 'mount')!;
  h.mkdir(at);
  // recorded before it is made, like every mount: after a kill, umount finds one of the two mounted
  h.record.steps.push({ ...trial, target: at });
  saveRecord(h.record);
  runMount(['--move', p.dir, at]);
  h.forget(p.steps.filter((x) => x.kind !== 'loop'));
}

function pickRoot(all: Array<Found & { disk: Disk }>, spec: string | undefined): Found & { disk: Disk } {
  if (spec !== undefined) {
    const vols = all.map((c) => c.volume);
    const byNumber = /^\d+$/.test(spec) ? vols.find((v) => v.partNumber === Number(spec)) : resolveSpec(spec, vols)?.volume;
    const hits = all.filter((c) => c.volume === byNumber);
    if (!hits.length) throw new RdError(`--volume ${spec}: no Linux root there; roots: ${all.map((c) => `${describe(c.volume, c.disk)} (${c.prettyName})`).join(', ')}`, {}, EXIT.usage);
    return hits[0];
  }
  if (all.length === 1) return all[0];
  throw new SeveralRootsError(all.map((c) => ({ ...c, source: c.disk.path })));
}

export function mountDisk(o: MountDiskOptions): HeldMount {
  const mounts = readMountinfo();
  const devices = listBlockDevices();
  const used = devicesInUse(devices, mounts.map((m) => m.majorMinor));
  let sources: string[];
  if (o.source !== undefined) {
    const path = realSource(o.source);
    refuseInUse(path, devices, used, mounts);
    sources = [path];
  } else {
    sources = unusedDisks(devices, used);
    if (!sources.length) throw new RdError('no disk here besides the ones this system runs from; attach the broken server\'s disk, or name an image file', {}, EXIT.badInput);
  }
  const at = resolve(o.at ?? freeMountDir());
  if (readRecords().some((r) => r.at === at)) throw new RdError(`rdrescue already holds a disk mounted there (rdrescue umount ${at})`, { file: at }, EXIT.refused);
  if (mounts.some((m) => m.mountPoint === at)) throw new RdError('is already a mount point', { file: at }, EXIT.refused);
  const readOnly = !o.rw;
  const record: HeldMount = { at, source: sources.length === 1 ? sources[0] : '', readOnly, pid: process.pid, started: new Date().toISOString(), complete: false, steps: [], notes: [] };
  saveRecord(record);
  const s: Session = { holder: new Holder(record), xfsUuids: mountedXfsUuids(mounts), devices: new Map() };
  try {
    const disks: Disk[] = sources.map(readDisk);
    for (const disk of disks) openContainers(s, disk, o.luks);
    const probeDir = join(dirname(RECORD_DIR), `probe-${process.pid}`);
    // read-only, the trial mount of a root is the final one: it is moved into place rather than mounted twice
    const all = disks.flatMap((disk) => findRoots(s, disk, probeDir, readOnly).map((c) => ({ ...c, disk })));
    if (!all.length) {
      const seen = disks.flatMap((d) => [...d.volumes.map((v) => `${describe(v, d)}: ${v.type ?? 'unknown'}${v.label ? ` LABEL=${v.label}` : ''}`), ...d.notes]);
      throw new RdError(`no Linux root (a filesystem or btrfs subvolume with etc/os-release and etc/fstab) on ${sources.join(', ')}${seen.length ? `; found ${seen.join('; ')}` : ''}`, {}, EXIT.badInput);
    }
    const root = pickRoot(all, o.volume);
    for (const c of all) if (c !== root && c.probe) s.holder.forget(c.probe.steps, true);
    record.source = root.disk.path;
    record.osName = root.prettyName;
    const subvol = root.subvol !== undefined ? [`subvol=${root.subvol}`] : [];
    if (root.probe) {
      moveProbe(s, root.probe, at);
      xfsOptions(s, root.volume);
      record.notes.push(...root.probe.notes);
    } else {
      s.holder.mkdir(at);
      const rootDev = deviceFor(s, root.volume, readOnly);
      mountVolume(s.holder, rootDev, root.volume, root.disk, at, [...subvol, ...xfsOptions(s, root.volume)], readOnly, '/', record.notes);
    }
    pausePoint('mount:root');
    const crypttab = readTargetText(at, 'etc/crypttab');
    if (crypttab) addCrypttabNames(crypttab, root.disk.volumes);
    const fstab = parseFstab(readFileSync(resolveInRoot(at, 'etc/fstab'), 'latin1'));
    const plan = planMounts(fstab, root.disk.volumes);
    const fstabRoot = plan.root && resolveSpec(plan.root.spec, root.disk.volumes, { partitionNumbers: true });
    if (plan.root && fstabRoot && fstabRoot.volume !== root.volume) record.notes.push(`fstab line ${plan.root.line} says / is ${plan.root.spec}, which is another filesystem than the one holding this fstab (${describe(root.volume, root.disk)})`);
    if (root.volume.type === 'btrfs' && plan.root && btrfsSubvolOptions(plan.root).length && btrfsSubvolOptions(plan.root).join(',') !== subvol.join(',')) {
      record.notes.push(`fstab line ${plan.root.line} mounts / with ${btrfsSubvolOptions(plan.root).join(',')}; the root was found in ${root.subvol ? `subvolume ${root.subvol}` : 'the default subvolume'}`);
    }
    record.notes.push(...root.disk.notes, ...plan.notes);
    for (const m of plan.mounts) {
      const mp = m.entry.mountPoint.replace(/\/+$/, '');
      const host = resolveInRoot(at, mp);
      // a mount point that is a symlink in the target would put the mount where the target chose
      if (host !== join(at, mp)) {
        record.notes.push(`fstab line ${m.entry.line}: ${mp} is a symbolic link in the target; not mounted`);
        continue;
      }
      if (!existsSync(host)) {
        record.notes.push(`fstab line ${m.entry.line}: the mount point ${mp} does not exist in the target; not mounted`);
        continue;
      }
      if (!m.volume.type || !LINUX_FS.has(m.volume.type)) {
        if (m.volume.type !== 'vfat') {
          record.notes.push(`fstab line ${m.entry.line}: ${mp}: ${m.entry.spec} holds ${m.volume.type ?? 'nothing rdrescue knows'}; not mounted`);
          continue;
        }
      }
      if (m.note) record.notes.push(`fstab line ${m.entry.line}: ${m.note}`);
      const dev = deviceFor(s, m.volume, readOnly);
      try {
        mountVolume(s.holder, dev, m.volume, root.disk, host, [...m.options, ...xfsOptions(s, m.volume)], readOnly, mp, record.notes);
      } catch (e) {
        record.notes.push(`fstab line ${m.entry.line}: ${mp} could not be mounted: ${(e as Error).message}`);
      }
    }
    record.notes.push(...plan.warnings.map((w) => `warning: ${w}`));
    record.complete = true;
    saveRecord(record);
    return record;
  } catch (e) {
    s.holder.rollback(0);
    removeRecord(at);
    throw e;
  }
}

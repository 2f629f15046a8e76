import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { openRange, type ByteRange } from './byte-source.js';
import { readPartitionTable, type PartitionTable } from './partition-table.js';
import { probeSuperblock, type Superblock, type VolumeType } from './superblock.js';

/**
 * The block devices of this machine as sysfs shows them, and the volumes on
 * them (what blkid would print), probed by rdrescue itself: a rescue host
 * need not have blkid or udev's /dev/disk/by-*, and a partition inside an
 * image file is no device at all until we attach it.
 */
export interface BlockDevice {
  /** Kernel name: sda, sda1, nvme0n1p2, loop3, dm-0. */
  name: string;
  /** Device node: /dev/sda1, or /dev/mapper/NAME for device-mapper. */
  path: string;
  /** "8:1". */
  majMin: string;
  size: number;
  readOnly: boolean;
  /** Partition number, when this is a partition. */
  partition?: number;
  /** The whole disk of a partition. */
  disk?: string;
  /** Kernel names of what is stacked on it (device-mapper, md). */
  holders: string[];
  /** Kernel names of what it is stacked on. */
  slaves: string[];
  /** A loop device's backing file. */
  backingFile?: string;
  /** A loop device over part of its file (an offset or a size limit): a partition someone attached, not a disk. */
  loopRange?: boolean;
}

/**
 * A volume: something that may hold a filesystem, with the names the
 * target's fstab may call it by. `range` says where its bytes are when it
 * lives inside an image or disk not yet attached; `device` is its node once
 * it has one.
 */
export interface Volume {
  device?: string;
  range: ByteRange;
  type?: VolumeType;
  uuid?: string;
  label?: string;
  partUuid?: string;
  partLabel?: string;
  partNumber?: number;
  /** ext3/4 whose journal needs replay. */
  needsRecovery?: boolean;
  luksVersion?: number;
  /** "VG/LV" for a logical volume. */
  lv?: string;
  /** What it is inside, for a volume in an opened container: "LUKS /dev/sdb partition 3". */
  container?: string;
  /** Other names of the same device: /dev/mapper/VG-LV, /dev/VG/LV, a name it had on the target. */
  aliases: string[];
}

/** A sysfs or proc file's text, trimmed; undefined when it cannot be read (a device or process gone meanwhile). */
export function readSys(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function device(dir: string, name: string, disk?: string): BlockDevice {
  const dmName = readSys(join(dir, 'dm/name'));
  const partition = readSys(join(dir, 'partition'));
  return {
    name,
    path: dmName ? `/dev/mapper/${dmName}` : `/dev/${name}`,
    majMin: readSys(join(dir, 'dev')) ?? '',
    size: Number(readSys(join(dir, 'size')) ?? 0) * 512,
    readOnly: readSys(join(dir, 'ro')) === '1',
    partition: partition ? Number(partition) : undefined,
    disk,
    holders: list(join(dir, 'holders')),
    slaves: list(join(dir, 'slaves')),
    backingFile: readSys(join(dir, 'loop/backing_file')),
    loopRange: Number(readSys(join(dir, 'loop/offset')) ?? 0) > 0 || Number(readSys(join(dir, 'loop/sizelimit')) ?? 0) > 0,
  };
}

/** Every block device: whole disks from /sys/block and their partitions below them. */
export function listBlockDevices(sysDir = '/sys'): BlockDevice[] {
  const out: BlockDevice[] = [];
  for (const name of list(join(sysDir, 'block')).sort()) {
    const dir = join(sysDir, 'block', name);
    const disk = device(dir, name);
    if (disk.size === 0) continue; // an unused loop or an empty drive
    out.push(disk);
    for (const sub of list(dir).sort()) {
      if (sub.startsWith(name) && existsSync(join(dir, sub, 'partition'))) out.push(device(join(dir, sub), sub, name));
    }
  }
  return out;
}

function fromSuperblock(range: ByteRange, sb: Superblock | undefined): Volume {
  return { range, type: sb?.type, uuid: sb?.uuid, label: sb?.label, needsRecovery: sb?.needsRecovery, luksVersion: sb?.version, aliases: [] };
}

/** What is on a device, a file or a range of either, or an unknown volume when it cannot be read. */
export function probeVolume(path: string, range?: { offset: number; size: number }): Volume {
  const r = openRange(path, range);
  try {
    return fromSuperblock(r.range, probeSuperblock(r));
  } finally {
    r.close();
  }
}

/** A disk or image: its partition table (or none) and the volume in each partition, or on the whole. */
export interface DiskLayout {
  path: string;
  size: number;
  table?: PartitionTable;
  volumes: Volume[];
}

export function readDiskLayout(path: string): DiskLayout {
  const r = openRange(path);
  try {
    // a filesystem or container on the whole disk: an MBR-looking sector inside it is not a table
    const whole = probeSuperblock(r);
    const table = whole && whole.type !== 'vfat' ? undefined : readPartitionTable(r);
    if (!table) return { path, size: r.range.size, volumes: [fromSuperblock(r.range, whole)] };
    const volumes = table.partitions.map((p) => {
      const pr = openRange(path, { offset: p.offset, size: p.size });
      try {
        return { ...fromSuperblock(pr.range, probeSuperblock(pr)), partUuid: p.partUuid, partLabel: p.partLabel || undefined, partNumber: p.number };
      } finally {
        pr.close();
      }
    });
    return { path, size: r.range.size, table, volumes };
  } finally {
    r.close();
  }
}

/**
 * Every volume on this machine, as blkid would list them: partitions get
 * their PARTUUID and PARTLABEL from the disk's table (read by us), devices
 * that cannot be opened (an empty CD drive) are left out.
 */
export function systemVolumes(devices: BlockDevice[] = listBlockDevices()): Volume[] {
  const tables = new Map<string, PartitionTable | undefined>();
  const out: Volume[] = [];
  for (const d of devices) {
    let v: Volume;
    try {
      v = probeVolume(d.path);
    } catch {
      continue;
    }
    v.device = d.path;
    if (d.disk !== undefined && d.partition !== undefined) {
      if (!tables.has(d.disk)) {
        try {
          const r = openRange(`/dev/${d.disk}`);
          try {
            tables.set(d.disk, readPartitionTable(r, Number(readSys(`/sys/block/${d.disk}/queue/logical_block_size`)) || undefined));
          } finally {
            r.close();
          }
        } catch {
          tables.set(d.disk, undefined);
        }
      }
      const p = tables.get(d.disk)?.partitions.find((x) => x.number === d.partition);
      v.partUuid = p?.partUuid;
      v.partLabel = p?.partLabel || undefined;
      v.partNumber = d.partition;
    }
    if (d.path.startsWith('/dev/mapper/')) v.aliases.push(`/dev/${d.name}`);
    out.push(v);
  }
  return out;
}

/** Kernel names of the devices under the running system's mounts and swap, following device-mapper and md down to the disks. */
export function devicesInUse(devices: BlockDevice[], mountedMajMin: Iterable<string>, swapPaths: Iterable<string> = activeSwaps()): Set<string> {
  const byMajMin = new Map(devices.map((d) => [d.majMin, d]));
  const byName = new Map(devices.map((d) => [d.name, d]));
  const used = new Set<string>();
  const mark = (d: BlockDevice | undefined) => {
    if (!d || used.has(d.name)) return;
    used.add(d.name);
    if (d.disk) mark(byName.get(d.disk));
    for (const s of d.slaves) mark(byName.get(s));
  };
  for (const mm of mountedMajMin) mark(byMajMin.get(mm));
  for (const p of swapPaths) {
    const name = p.startsWith('/dev/mapper/') ? devices.find((d) => d.path === p)?.name : basename(realName(p));
    if (name) mark(byName.get(name));
  }
  return used;
}

function realName(p: string): string {
  try {
    return readlinkSync(p);
  } catch {
    return p;
  }
}

function activeSwaps(): string[] {
  return (readSys('/proc/swaps') ?? '')
    .split('\n')
    .slice(1)
    .map((l) => l.split(/\s+/)[0])
    .filter((p) => p?.startsWith('/dev/'));
}

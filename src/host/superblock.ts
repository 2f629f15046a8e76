import type { ByteReader } from './byte-source.js';
import { cString, isZero, uuidBigEndian } from './guid.js';

/**
 * What is on a volume, read from its superblock the way blkid reads it
 * (blkid is the oracle in the tests): type, UUID and LABEL for the
 * filesystems a Linux root is made of, and for the containers that hide
 * one (LUKS, LVM physical volumes). The rescue host may have no blkid, and
 * an image's partitions are not devices blkid could be pointed at.
 */
export type VolumeType = 'ext2' | 'ext3' | 'ext4' | 'xfs' | 'btrfs' | 'vfat' | 'swap' | 'crypto_LUKS' | 'LVM2_member';

export interface Superblock {
  type: VolumeType;
  uuid?: string;
  label?: string;
  /** LUKS version. */
  version?: number;
  /** ext3/4 whose journal needs replay (its superblock says so). */
  needsRecovery?: boolean;
}

const EXT3_INCOMPAT = 0x2 | 0x4 | 0x10; // filetype, recover, meta_bg
const EXT3_RO_COMPAT = 0x1 | 0x2 | 0x4; // sparse_super, large_file, btree_dir

function ext(r: ByteReader): Superblock | undefined {
  const sb = r.read(1024, 1024);
  if (sb.length < 1024 || sb.readUInt16LE(0x38) !== 0xef53) return undefined;
  const compat = sb.readUInt32LE(0x5c);
  const incompat = sb.readUInt32LE(0x60);
  const roCompat = sb.readUInt32LE(0x64);
  if (incompat & 0x8) return undefined; // an external journal device, not a filesystem
  const journal = (compat & 0x4) !== 0;
  const type = incompat & ~EXT3_INCOMPAT || roCompat & ~EXT3_RO_COMPAT ? 'ext4' : journal ? 'ext3' : 'ext2';
  return { type, uuid: uuidBigEndian(sb.subarray(0x68, 0x78)), label: cString(sb.subarray(0x78, 0x88)) || undefined, needsRecovery: (incompat & 0x4) !== 0 };
}

function xfs(r: ByteReader): Superblock | undefined {
  const sb = r.read(0, 120);
  if (sb.length < 120 || sb.toString('latin1', 0, 4) !== 'XFSB') return undefined;
  return { type: 'xfs', uuid: uuidBigEndian(sb.subarray(32, 48)), label: cString(sb.subarray(108, 120)) || undefined };
}

function btrfs(r: ByteReader): Superblock | undefined {
  const sb = r.read(0x10000, 0x22b);
  if (sb.length < 0x22b || sb.toString('latin1', 0x40, 0x48) !== '_BHRfS_M') return undefined;
  return { type: 'btrfs', uuid: uuidBigEndian(sb.subarray(0x20, 0x30)), label: cString(sb.subarray(0x12b, 0x22b)) || undefined };
}

function vfat(r: ByteReader): Superblock | undefined {
  const bs = r.read(0, 512);
  if (bs.length < 512 || bs.readUInt16LE(510) !== 0xaa55) return undefined;
  const fat32 = bs.toString('latin1', 0x52, 0x57) === 'FAT32';
  if (!fat32 && bs.toString('latin1', 0x36, 0x39) !== 'FAT') return undefined;
  const serial = bs.readUInt32LE(fat32 ? 0x43 : 0x27);
  const hex = serial.toString(16).toUpperCase().padStart(8, '0');
  const label = bs.toString('latin1', fat32 ? 0x47 : 0x2b, (fat32 ? 0x47 : 0x2b) + 11).trimEnd();
  return { type: 'vfat', uuid: `${hex.slice(0, 4)}-${hex.slice(4)}`, label: label && label !== 'NO NAME' ? label : undefined };
}

function swap(r: ByteReader): Superblock | undefined {
  for (const page of [4096, 8192, 16384, 65536]) {
    const magic = r.read(page - 10, 10).toString('latin1');
    if (magic !== 'SWAPSPACE2' && magic !== 'SWAP-SPACE') continue;
    const h = r.read(1024, 1024);
    const uuid = h.subarray(12, 28);
    return { type: 'swap', uuid: isZero(uuid) ? undefined : uuidBigEndian(uuid), label: cString(h.subarray(28, 44)) || undefined };
  }
  return undefined;
}

function luks(r: ByteReader): Superblock | undefined {
  const h = r.read(0, 208);
  if (h.length < 208 || !h.subarray(0, 6).equals(Buffer.from('LUKS\xba\xbe', 'latin1'))) return undefined;
  const version = h.readUInt16BE(6);
  return { type: 'crypto_LUKS', version, uuid: cString(h.subarray(168, 208)) || undefined, label: version === 2 ? cString(h.subarray(24, 72)) || undefined : undefined };
}

/** The PV label sits in one of the first four sectors; blkid prints the 32-character PV UUID in 6-4-4-4-4-4-6 groups. */
function lvm2(r: ByteReader): Superblock | undefined {
  for (let s = 0; s < 4; s++) {
    const sector = r.read(s * 512, 512);
    if (sector.length < 512 || sector.toString('latin1', 0, 8) !== 'LABELONE' || sector.toString('latin1', 24, 32) !== 'LVM2 001') continue;
    const pv = sector.toString('latin1', sector.readUInt32LE(20), sector.readUInt32LE(20) + 32);
    const groups = [6, 4, 4, 4, 4, 4, 6];
    let at = 0;
    const uuid = groups.map((n) => pv.slice(at, (at += n))).join('-');
    return { type: 'LVM2_member', uuid };
  }
  return undefined;
}

// Containers first: a LUKS header or PV label wins over stale filesystem bytes further in.
const PROBES = [luks, lvm2, xfs, ext, btrfs, swap, vfat];

/** The volume's type and identity, or undefined when it is none of the known kinds. */
export function probeSuperblock(r: ByteReader): Superblock | undefined {
  for (const p of PROBES) {
    const sb = p(r);
    if (sb) return sb;
  }
  return undefined;
}

import { FormatError } from '../errors.js';
import { crc32 } from '../compression/checksum.js';
import type { ByteReader } from './byte-source.js';
import { guidMixedEndian, isZero } from './guid.js';

/**
 * GPT and MBR (with logical partitions in an extended one), read by us:
 * an image file attached as one loop device gets no partition devices here
 * (`losetup -P` made none), and a downloaded snapshot has no udev at all.
 * PARTUUID and PARTLABEL are spelled as blkid spells them, because the
 * target's fstab and root= use them.
 */
export interface Partition {
  /** 1-based, as the kernel numbers them (MBR logical partitions start at 5). */
  number: number;
  /** Byte offset and length within the disk. */
  offset: number;
  size: number;
  /** GPT: unique partition GUID; MBR: disk signature and number, "1234abcd-05". */
  partUuid?: string;
  /** GPT partition name. */
  partLabel?: string;
  /** GPT type GUID or MBR type byte as two hex digits. */
  type: string;
}

export interface PartitionTable {
  kind: 'gpt' | 'mbr';
  sectorSize: number;
  /** GPT disk GUID or MBR disk signature (PTUUID). */
  id: string;
  partitions: Partition[];
}

const GPT_SIGNATURE = 'EFI PART';
const EXTENDED = new Set([0x05, 0x0f, 0x85]);

function readGptHeader(disk: ByteReader, lba: number, sectorSize: number): Buffer | undefined {
  const h = disk.read(lba * sectorSize, sectorSize);
  if (h.length < 92 || h.toString('latin1', 0, 8) !== GPT_SIGNATURE) return undefined;
  const size = h.readUInt32LE(12);
  if (size < 92 || size > sectorSize) return undefined;
  const copy = Buffer.from(h.subarray(0, size));
  const want = copy.readUInt32LE(16);
  copy.writeUInt32LE(0, 16);
  return crc32(copy) === want ? h : undefined;
}

function readGpt(disk: ByteReader, sectorSize: number): PartitionTable | undefined {
  const lastLba = Math.floor(disk.range.size / sectorSize) - 1;
  // the backup header at the end of the disk serves when the primary is damaged
  const h = readGptHeader(disk, 1, sectorSize) ?? readGptHeader(disk, lastLba, sectorSize);
  if (!h) return undefined;
  const entriesLba = Number(h.readBigUInt64LE(72));
  const count = h.readUInt32LE(80);
  const entrySize = h.readUInt32LE(84);
  if (entrySize < 128 || count > 4096) throw new FormatError(`GPT header says ${count} entries of ${entrySize} bytes`, { file: disk.range.path, offset: sectorSize });
  const table = disk.read(entriesLba * sectorSize, count * entrySize);
  if (crc32(table) !== h.readUInt32LE(88)) throw new FormatError('GPT partition entries fail their CRC32', { file: disk.range.path, offset: entriesLba * sectorSize });
  const partitions: Partition[] = [];
  for (let i = 0; i < count; i++) {
    const e = table.subarray(i * entrySize, (i + 1) * entrySize);
    if (isZero(e.subarray(0, 16))) continue;
    const first = Number(e.readBigUInt64LE(32));
    const last = Number(e.readBigUInt64LE(40));
    if (last < first) continue;
    const name = e.subarray(56, 128).toString('utf16le');
    const nul = name.indexOf('\0');
    partitions.push({
      number: i + 1,
      offset: first * sectorSize,
      size: (last - first + 1) * sectorSize,
      partUuid: guidMixedEndian(e.subarray(16, 32)),
      partLabel: nul < 0 ? name : name.slice(0, nul),
      type: guidMixedEndian(e.subarray(0, 16)),
    });
  }
  return { kind: 'gpt', sectorSize, id: guidMixedEndian(h.subarray(56, 72)), partitions };
}

interface MbrEntry {
  type: number;
  start: number;
  sectors: number;
}

function mbrEntries(sector: Buffer): MbrEntry[] | undefined {
  if (sector.length < 512 || sector.readUInt16LE(510) !== 0xaa55) return undefined;
  const out: MbrEntry[] = [];
  for (let i = 0; i < 4; i++) {
    const e = sector.subarray(446 + i * 16, 446 + (i + 1) * 16);
    // the boot flag is 0x00 or 0x80: anything else is boot code, as in a FAT boot sector
    if (e[0] !== 0 && e[0] !== 0x80) return undefined;
    out.push({ type: e[4], start: e.readUInt32LE(8), sectors: e.readUInt32LE(12) });
  }
  return out;
}

function readMbr(disk: ByteReader): PartitionTable | undefined {
  const sector = disk.read(0, 512);
  const entries = mbrEntries(sector);
  if (!entries) return undefined;
  const sectors = Math.floor(disk.range.size / 512);
  const used = entries.filter((e) => e.type !== 0 && e.sectors > 0);
  if (!used.length || used.some((e) => e.start === 0 || e.start >= sectors)) return undefined;
  const sig = sector.readUInt32LE(440).toString(16).padStart(8, '0');
  const part = (number: number, startSector: number, count: number, type: number): Partition => ({
    number,
    offset: startSector * 512,
    size: Math.min(count, sectors - startSector) * 512,
    partUuid: `${sig}-${number.toString(16).padStart(2, '0')}`,
    type: type.toString(16).padStart(2, '0'),
  });
  const partitions: Partition[] = [];
  entries.forEach((e, i) => {
    if (e.type === 0 || e.sectors === 0) return;
    if (!EXTENDED.has(e.type)) return partitions.push(part(i + 1, e.start, e.sectors, e.type));
    // logical partitions: a chain of EBRs, each link relative to the extended partition's start
    let ebr = e.start;
    for (let n = 5, seen = new Set<number>(); !seen.has(ebr) && n < 5 + 256; n++) {
      seen.add(ebr);
      const links = mbrEntries(disk.read(ebr * 512, 512));
      if (!links) break;
      const [logical, next] = links;
      if (logical.type !== 0 && logical.sectors > 0) partitions.push(part(n, ebr + logical.start, logical.sectors, logical.type));
      if (!EXTENDED.has(next.type) || next.start === 0) break;
      ebr = e.start + next.start;
    }
  });
  return { kind: 'mbr', sectorSize: 512, id: sig, partitions };
}

/**
 * The partition table of a disk or image, or undefined when it has none
 * (a filesystem on the whole disk). A protective MBR means GPT; image files
 * have no logical sector size, so 4096-byte GPTs are tried after 512.
 */
export function readPartitionTable(disk: ByteReader, sectorSize?: number): PartitionTable | undefined {
  for (const ss of sectorSize ? [sectorSize] : [512, 4096]) {
    const gpt = readGpt(disk, ss);
    if (gpt) return gpt;
  }
  const mbr = readMbr(disk);
  if (mbr && mbr.partitions.length === 1 && mbr.partitions[0].type === 'ee') return undefined;
  return mbr;
}

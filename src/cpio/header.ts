import { FormatError } from '../errors.js';
import { typeOfMode, type Entry } from './entry.js';

/** newc/crc header: 6-byte magic and 13 fields of 8 hex digits. */
export const HEADER_SIZE = 110;
export const TRAILER = 'TRAILER!!!';
/** The kernel's PATH_MAX: the longest name field (NUL included) and symlink target init/initramfs.c takes. */
export const PATH_MAX = 4096;
export type CpioFormat = 'newc' | 'crc';

const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX[0x30 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX[0x41 + i] = 10 + i;
  HEX[0x61 + i] = 10 + i;
}

export const pad4 = (n: number): number => (4 - (n & 3)) & 3;

export interface RawHeader {
  format: CpioFormat;
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  filesize: number;
  devMajor: number;
  devMinor: number;
  rdevMajor: number;
  rdevMinor: number;
  namesize: number;
  check: number;
}

/**
 * Parses the 110-byte header at `buf[pos]`. `offset` is its position in the
 * (decompressed) segment, used only for error messages.
 */
export function parseHeader(buf: Uint8Array, pos: number, offset: number): RawHeader {
  if (buf[pos] !== 0x30 || buf[pos + 1] !== 0x37 || buf[pos + 2] !== 0x30 || buf[pos + 3] !== 0x37 || buf[pos + 4] !== 0x30) {
    throw new FormatError(`bad cpio magic ${JSON.stringify(Buffer.from(buf.subarray(pos, pos + 6)).toString('latin1'))}`, { offset });
  }
  const m = buf[pos + 5];
  const format: CpioFormat | undefined = m === 0x31 ? 'newc' : m === 0x32 ? 'crc' : undefined;
  if (!format) {
    const what = m === 0x37 ? 'odc (070707) cpio, which the kernel cannot unpack' : 'unknown cpio magic';
    throw new FormatError(what, { offset });
  }
  // Field by field into the object, no array or closure in between: this runs for every entry of every listing.
  return {
    format,
    ino: hexField(buf, pos, 0, offset),
    mode: hexField(buf, pos, 1, offset),
    uid: hexField(buf, pos, 2, offset),
    gid: hexField(buf, pos, 3, offset),
    nlink: hexField(buf, pos, 4, offset),
    mtime: hexField(buf, pos, 5, offset),
    filesize: hexField(buf, pos, 6, offset),
    devMajor: hexField(buf, pos, 7, offset),
    devMinor: hexField(buf, pos, 8, offset),
    rdevMajor: hexField(buf, pos, 9, offset),
    rdevMinor: hexField(buf, pos, 10, offset),
    namesize: hexField(buf, pos, 11, offset),
    check: hexField(buf, pos, 12, offset),
  };
}

/** Header field f (0-12) of the header at buf[pos]: 8 hex digits after the 6-byte magic. */
function hexField(buf: Uint8Array, pos: number, f: number, offset: number): number {
  let n = 0;
  for (let p = pos + 6 + f * 8, end = p + 8; p < end; p++) {
    const d = HEX[buf[p]];
    if (d < 0) throw new FormatError(`bad hex digit in cpio header field ${f + 1}`, { offset: offset + (p - pos) });
    n = n * 16 + d;
  }
  return n;
}

/** Builds the Entry for a header and its name; symlink targets are filled in by the reader. */
export function toEntry(h: RawHeader, name: string): Entry {
  return {
    name,
    type: typeOfMode(h.mode),
    mode: h.mode,
    uid: h.uid,
    gid: h.gid,
    nlink: h.nlink,
    mtime: h.mtime,
    size: h.filesize,
    ino: h.ino,
    devMajor: h.devMajor,
    devMinor: h.devMinor,
    rdevMajor: h.rdevMajor,
    rdevMinor: h.rdevMinor,
    check: h.check,
  };
}

function hex8(n: number, field: string): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`cpio field ${field} out of range: ${n}`);
  return n.toString(16).padStart(8, '0');
}

/** Formats the header plus NUL-terminated name plus padding, ready to precede the data. */
export function formatHeader(e: Omit<Entry, 'type' | 'target' | 'rawTarget' | 'name'> & { name: string | Buffer }, format: CpioFormat = 'newc'): Buffer {
  const nameBytes = typeof e.name === 'string' ? Buffer.from(e.name, 'utf8') : e.name;
  const namesize = nameBytes.length + 1;
  const head =
    (format === 'crc' ? '070702' : '070701') +
    hex8(e.ino, 'ino') +
    hex8(e.mode, 'mode') +
    hex8(e.uid, 'uid') +
    hex8(e.gid, 'gid') +
    hex8(e.nlink, 'nlink') +
    hex8(e.mtime, 'mtime') +
    hex8(e.size, 'filesize') +
    hex8(e.devMajor, 'devmajor') +
    hex8(e.devMinor, 'devminor') +
    hex8(e.rdevMajor, 'rdevmajor') +
    hex8(e.rdevMinor, 'rdevminor') +
    hex8(namesize, 'namesize') +
    hex8(format === 'crc' ? e.check : 0, 'check');
  const total = HEADER_SIZE + namesize;
  const out = Buffer.alloc(total + pad4(total));
  out.write(head, 0, 'latin1');
  nameBytes.copy(out, HEADER_SIZE);
  return out;
}

/** The crc format's checksum: the 32-bit sum of all data bytes. */
export function dataSum(chunk: Uint8Array, sum: number): number {
  for (let i = 0; i < chunk.length; i++) sum = (sum + chunk[i]) | 0;
  return sum >>> 0;
}

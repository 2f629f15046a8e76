import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { RdError, EXIT } from '../errors.js';

/**
 * A disk, a partition or an image file as a range of bytes read with plain
 * read(2): partition tables and superblocks are found by rdrescue itself,
 * so this works where loop partition scanning and udev do not.
 */
export interface ByteRange {
  /** The file or device node holding the bytes. */
  path: string;
  /** Where this range starts in `path`. */
  offset: number;
  size: number;
}

export interface ByteReader {
  range: ByteRange;
  /** `length` bytes at `offset` within the range; short (or empty) past its end. */
  read(offset: number, length: number): Buffer;
  close(): void;
}

/** sysfs keeps every block device's size in 512-byte sectors (Node has no BLKGETSIZE64, and stat says 0). */
export function blockDeviceSize(rdev: number, path: string): number {
  const major = (rdev >> 8) & 0xfff;
  const minor = (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
  try {
    return Number(readFileSync(`/sys/dev/block/${major}:${minor}/size`, 'utf8').trim()) * 512;
  } catch {
    throw new RdError(`no size for block device ${major}:${minor} in /sys`, { file: path }, EXIT.badInput);
  }
}

/** Opens a whole file or device (no range given) or a range inside it, read-only. */
export function openRange(path: string, range?: { offset: number; size: number }): ByteReader {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new RdError(`cannot open: ${(e as NodeJS.ErrnoException).code}`, { file: path }, EXIT.badInput);
  }
  let size: number;
  try {
    const st = fstatSync(fd);
    if (st.isFile()) size = st.size;
    else if (st.isBlockDevice()) size = blockDeviceSize(st.rdev, path);
    else throw new RdError('is neither a disk, a partition nor an image file', { file: path }, EXIT.badInput);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  const r: ByteRange = range ? { path, offset: range.offset, size: Math.min(range.size, Math.max(0, size - range.offset)) } : { path, offset: 0, size };
  return {
    range: r,
    read(offset, length) {
      // before the start (a backup GPT header of a file smaller than a sector) there is nothing
      const n = offset < 0 ? 0 : Math.max(0, Math.min(length, r.size - offset));
      const buf = Buffer.alloc(n);
      let got = 0;
      while (got < n) {
        const k = readSync(fd, buf, got, n - got, r.offset + offset + got);
        if (k === 0) break;
        got += k;
      }
      return got === n ? buf : buf.subarray(0, got);
    },
    close() {
      closeSync(fd);
    },
  };
}

import { dataSum, formatHeader, pad4, TRAILER, type CpioFormat } from './header.js';
import { modeBitsOfType, type EntryType } from './entry.js';

/** What the writer needs for one member. Data comes last so large files stream. */
export interface WriteEntry {
  name: string;
  /** The name's bytes, when they are not valid UTF-8 (`name` is then only for messages). */
  rawName?: Buffer;
  type: EntryType;
  /** Permission bits including setuid/setgid/sticky; the type bits are added from `type`. */
  perm: number;
  uid: number;
  gid: number;
  mtime: number;
  ino: number;
  nlink: number;
  rdevMajor?: number;
  rdevMinor?: number;
  /** Byte count of `data` (0 for every hard link but the last of its group). */
  size: number;
  /** File contents or symlink target, produced on demand. */
  data?: () => AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
}

const ZEROS = Buffer.alloc(4);

/**
 * Streams a newc (or crc) archive of `entries`, ending with TRAILER!!!.
 * The caller decides order, inode numbers and hard-link grouping; the writer
 * checks that each data source delivers exactly `size` bytes, since a short
 * file would shift every later header.
 */
export async function* writeArchive(
  entries: AsyncIterable<WriteEntry> | Iterable<WriteEntry>,
  format: CpioFormat = 'newc',
): AsyncGenerator<Buffer, void, undefined> {
  for await (const e of entries) {
    const mode = modeBitsOfType(e.type) | (e.perm & 0o7777);
    let chunks: Uint8Array[] | undefined;
    let check = 0;
    if (format === 'crc' && e.size > 0 && e.data) {
      // crc needs the sum in the header, before the data: buffer this entry.
      chunks = [];
      for await (const c of e.data()) {
        chunks.push(c);
        check = dataSum(c, check);
      }
    }
    yield formatHeader(
      {
        name: e.rawName ?? e.name,
        mode,
        uid: e.uid,
        gid: e.gid,
        nlink: e.nlink,
        mtime: e.mtime,
        size: e.size,
        ino: e.ino,
        devMajor: 0,
        devMinor: 0,
        rdevMajor: e.rdevMajor ?? 0,
        rdevMinor: e.rdevMinor ?? 0,
        check,
      },
      format,
    );
    let written = 0;
    if (e.size > 0) {
      if (!e.data) throw new Error(`cpio writer: ${e.name} has size ${e.size} but no data`);
      for await (const c of chunks ?? e.data()) {
        written += c.length;
        if (written > e.size) throw new Error(`cpio writer: ${e.name} grew while being archived (more than ${e.size} bytes)`);
        yield Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.length);
      }
      if (written !== e.size) throw new Error(`cpio writer: ${e.name} shrank while being archived (${written} of ${e.size} bytes)`);
      const p = pad4(written);
      if (p) yield ZEROS.subarray(0, p);
    }
  }
  yield formatHeader(
    { name: TRAILER, mode: 0, uid: 0, gid: 0, nlink: 1, mtime: 0, size: 0, ino: 0, devMajor: 0, devMinor: 0, rdevMajor: 0, rdevMinor: 0, check: 0 },
    format,
  );
}

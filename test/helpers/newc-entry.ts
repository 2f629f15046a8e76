// One newc entry built by hand, for what no archiver writes: entries of
// unknown type, data on a data-less type, names that are not UTF-8. The
// header, then the name and the data, each padded to 4 bytes.
import { formatHeader } from '../../src/cpio/header.js';

export function newcEntry(name: string | Buffer, mode: number, data: string | Buffer = '', f: { ino?: number; nlink?: number; mtime?: number } = {}): Buffer {
  const body = Buffer.from(data);
  const head = formatHeader({ ino: f.ino ?? 0, mode, uid: 0, gid: 0, nlink: f.nlink ?? 1, mtime: f.mtime ?? 1700000000, size: body.length, devMajor: 0, devMinor: 0, rdevMajor: 0, rdevMinor: 0, check: 0, name });
  return Buffer.concat([head, body, Buffer.alloc((4 - (body.length & 3)) & 3)]);
}

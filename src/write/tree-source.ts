import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, type Stats } from 'node:fs';
import type { EntryType } from '../cpio/entry.js';
import type { WriteEntry } from '../cpio/writer.js';
import { joinBytes, rawUnlessUtf8 } from '../cpio/name-bytes.js';
import { RdError, EXIT } from '../errors.js';

/** One thing to archive and the name it gets. */
export interface TreeItem {
  /** Archive name: relative, no leading "/" or "./"; "." for the archive root. */
  name: string;
  type: EntryType;
  /** Permission bits with setuid/setgid/sticky. */
  perm: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch. */
  mtime: number;
  /** Bytes of a regular file. */
  size: number;
  /** The name's bytes, when they are not valid UTF-8 (`name` is then lossy). */
  rawName?: Buffer;
  /** Where a regular file's bytes are on the host. */
  host?: string | Buffer;
  /** Symlink target. */
  target?: string;
  /** The target's bytes, when they are not valid UTF-8. */
  rawTarget?: Buffer;
  rdev?: { major: number; minor: number };
  /** Same key = same host inode: the names are stored as one hard-link group. */
  linkKey?: string;
}

export interface PackOptions {
  /** Store these ids instead of the host's (`--owner 0:0`). */
  owner?: { uid: number; gid: number };
  /** No stored mtime is later than this (SOURCE_DATE_EPOCH); default: the environment's SOURCE_DATE_EPOCH. */
  sourceDateEpoch?: number;
}

/** Describes the host object at `host` (never following a symlink) as an item named `name` (bytes `rawName`). */
export function itemOf(host: string | Buffer, name: string, st: Stats = lstatHost(host), rawName?: Buffer): TreeItem {
  const type = typeOfStats(st);
  const link = type === 'symlink' ? readlinkSync(host, { encoding: 'buffer' }) : undefined;
  const target = link?.toString('utf8');
  return {
    name,
    rawName,
    type,
    perm: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    mtime: Math.max(0, Math.floor(st.mtimeMs / 1000)),
    size: type === 'file' ? st.size : 0,
    host,
    target,
    rawTarget: link && rawUnlessUtf8(link, target!),
    rdev: type === 'char' || type === 'block' ? splitDev(st.rdev) : undefined,
    linkKey: type !== 'dir' && st.nlink > 1 ? `${st.dev}:${st.ino}` : undefined,
  };
}

function lstatHost(p: string | Buffer): Stats {
  try {
    return lstatSync(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new RdError(`cannot read ${p}: ${code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`, {}, EXIT.usage);
  }
}

/**
 * Walks `host` (a directory, or any single object) and names it `name`;
 * everything below it gets `name/…` ("." as `name` gives bare relative names,
 * the form `find . | cpio -o -H newc` stores and the kernel's gen_init_cpio
 * writes). Nothing is followed: symlinks are stored as symlinks.
 */
export function scanTree(host: string, name: string): TreeItem[] {
  const items: TreeItem[] = [];
  // Names as bytes all the way down: a directory whose name is not UTF-8 passes its bytes on to everything in it.
  const visit = (h: string | Buffer, n: Buffer) => {
    const st = lstatHost(h);
    const text = n.toString('utf8');
    items.push(itemOf(h, text, st, rawUnlessUtf8(n, text)));
    if (!st.isDirectory()) return;
    for (const child of readdirSync(h, { encoding: 'buffer' })) visit(joinBytes(h, child), text === '.' ? child : joinBytes(n, child));
  };
  visit(host, Buffer.from(name));
  return items;
}

/** SOURCE_DATE_EPOCH from the environment, validated as reproducible-builds.org defines it. */
export function envSourceDateEpoch(): number | undefined {
  const v = process.env.SOURCE_DATE_EPOCH;
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v)) throw new RdError(`SOURCE_DATE_EPOCH must be a whole number of seconds, got ${JSON.stringify(v)}`, {}, EXIT.usage);
  return Number(v);
}

export function typeOfStats(st: Stats): EntryType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return 'socket';
}

/** glibc's dev_t encoding (gnu_dev_major/minor). */
export function splitDev(rdev: number): { major: number; minor: number } {
  const hi = Math.floor(rdev / 2 ** 32);
  const lo = rdev >>> 0;
  return { major: (((lo >>> 8) & 0xfff) | (hi & ~0xfff)) >>> 0, minor: ((lo & 0xff) | (((lo >>> 12) | (hi << 20)) & ~0xff)) >>> 0 };
}

/** The stored bytes of an item's name. */
const nameBytes = (it: TreeItem): Buffer => it.rawName ?? Buffer.from(it.name, 'utf8');

/** Bytes read per call: a small file in one read, a large one streamed. */
const READ_CHUNK = 1 << 20;

/**
 * Streams a file without reading it whole. Reads are synchronous: a thread
 * pool round trip per read left the compressor waiting for input (repack of
 * the distribution tree with zstd -3: 1.05 s with createReadStream, 0.79 s
 * like this). The file was a regular file when scanned; O_NOFOLLOW keeps a
 * symlink swapped in since then from being followed.
 */
export function fileData(path: string | Buffer): () => Iterable<Uint8Array> {
  return function* () {
    const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      let left = fstatSync(fd).size;
      for (;;) {
        // One byte more than expected: a file that grew is caught by the writer's size check.
        const want = Math.min(Math.max(left, 0) + 1, READ_CHUNK);
        const b = Buffer.allocUnsafe(want);
        const n = readSync(fd, b, 0, want, null);
        if (n === 0) return;
        left -= n;
        yield n === want ? b : b.subarray(0, n);
      }
    } finally {
      closeSync(fd);
    }
  };
}

/**
 * Turns scanned items into the writer's entries, in a reproducible form:
 * sorted bytewise by name (what `LC_ALL=C sort` gives dracut and
 * mkinitramfs), inode numbers 1, 2, … in that order, hard links grouped the
 * newc way (one inode, nlink = names in the archive, data only on the last
 * name), directory nlink 2 + subdirectories whatever the host file system
 * says, and mtimes clamped to SOURCE_DATE_EPOCH.
 */
export function writeEntriesOf(items: TreeItem[], opts: PackOptions = {}): WriteEntry[] {
  const sde = opts.sourceDateEpoch ?? envSourceDateEpoch();
  const keyed = items.map((it) => ({ it, key: nameBytes(it) })).sort((a, b) => Buffer.compare(a.key, b.key));
  const sorted = keyed.map((k) => k.it);
  for (let i = 1; i < keyed.length; i++) {
    if (keyed[i]!.key.equals(keyed[i - 1]!.key)) throw new RdError(`two sources for ${JSON.stringify(sorted[i].name)}`, {}, EXIT.usage);
  }
  // Hard-link groups: names sharing a host inode inside this set (links to outside it do not count).
  const groups = new Map<string, TreeItem[]>();
  for (const it of sorted) {
    if (!it.linkKey) continue;
    const g = groups.get(it.linkKey);
    if (g) g.push(it);
    else groups.set(it.linkKey, [it]);
  }
  // Keyed by the name's bytes as a latin1 string: two names that differ only in invalid bytes stay apart.
  const bytesKey = (it: TreeItem) => nameBytes(it).toString('latin1');
  const subdirs = new Map<string, number>();
  for (const it of sorted) {
    if (it.type !== 'dir' || it.name === '.') continue;
    const key = bytesKey(it);
    const slash = key.lastIndexOf('/');
    const parent = slash < 0 ? '.' : key.slice(0, slash);
    subdirs.set(parent, (subdirs.get(parent) ?? 0) + 1);
  }
  const groupIno = new Map<TreeItem[], number>();
  let ino = 0;
  return sorted.map((it): WriteEntry => {
    const group = it.linkKey ? groups.get(it.linkKey) : undefined;
    const linked = group !== undefined && group.length > 1;
    let entryIno: number;
    if (linked) {
      entryIno = groupIno.get(group) ?? ++ino;
      groupIno.set(group, entryIno);
    } else entryIno = ++ino;
    let size = 0;
    let data: WriteEntry['data'];
    if (it.type === 'symlink') {
      const t = it.rawTarget ?? Buffer.from(it.target ?? '', 'utf8');
      size = t.length;
      data = () => [t];
    } else if (it.type === 'file' && (!linked || group[group.length - 1] === it) && it.size > 0) {
      size = it.size;
      if (size > 0xffffffff) throw new RdError(`${it.host} is ${size} bytes: newc cpio stores at most 4 GiB - 1 per file`, {}, EXIT.refused);
      data = fileData(it.host!);
    }
    return {
      name: it.name,
      rawName: it.rawName,
      type: it.type,
      perm: it.perm,
      uid: opts.owner?.uid ?? it.uid,
      gid: opts.owner?.gid ?? it.gid,
      mtime: sde !== undefined && it.mtime > sde ? sde : it.mtime,
      ino: entryIno,
      nlink: it.type === 'dir' ? 2 + (subdirs.get(bytesKey(it)) ?? 0) : linked ? group.length : 1,
      rdevMajor: it.rdev?.major,
      rdevMinor: it.rdev?.minor,
      size,
      data,
    };
  });
}

/** A host directory as a reproducible archive, "." root entry included (as dracut and mkinitramfs store it). */
export function treeSource(dir: string, opts: PackOptions = {}): WriteEntry[] {
  if (!lstatHost(dir).isDirectory()) throw new RdError(`${dir} is not a directory`, {}, EXIT.usage);
  return writeEntriesOf(scanTree(dir, '.'), opts);
}

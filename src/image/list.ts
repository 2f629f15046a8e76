import { modeString, type Entry } from '../cpio/entry.js';
import { nameFilter } from './names.js';
import { readImage, type ReadOptions } from './read.js';

/** One line of `ls --json`: the stored fields that mean something outside the archive. */
export type ListedEntry = Pick<Entry, 'name' | 'type' | 'mode' | 'uid' | 'gid' | 'nlink' | 'mtime' | 'size' | 'target'> & {
  segment: number;
  rdev?: [number, number];
  /** The stored bytes, base64, when the name is not UTF-8 (`name` then holds U+FFFD in their place): JSON has no bytes. */
  nameBase64?: string;
  targetBase64?: string;
  /** Why the kernel would create nothing for this entry (e.g. a name longer than PATH_MAX). */
  skipped?: string;
};

export interface ListedItem {
  entry: Entry;
  segment: number;
  rawName?: Buffer;
  skip?: string;
}

export interface ListOptions extends ReadOptions {
  patterns?: string[];
}

/**
 * Every entry of every segment, in stored order, as `cpio -t` sees each
 * segment in turn, including those the kernel skips (marked `skip`).
 */
export async function* listImage(image: string, opts: ListOptions = {}): AsyncGenerator<ListedItem, void, undefined> {
  const match = nameFilter(opts.patterns);
  for await (const ev of readImage(image, { ...opts, withSkipped: true })) {
    if (ev.kind === 'entry' && match(ev.entry.name)) yield { entry: ev.entry, segment: ev.segment.index, rawName: ev.rawName, skip: ev.skip };
  }
}

export function toListed({ entry: e, segment, rawName, skip }: ListedItem): ListedEntry {
  const l: ListedEntry = { segment, name: e.name, type: e.type, mode: e.mode, uid: e.uid, gid: e.gid, nlink: e.nlink, mtime: e.mtime, size: e.size };
  if (skip) l.skipped = skip;
  if (rawName) l.nameBase64 = rawName.toString('base64');
  if (e.type === 'symlink') l.target = e.target;
  if (e.rawTarget) l.targetBase64 = e.rawTarget.toString('base64');
  if (e.type === 'char' || e.type === 'block') l.rdev = [e.rdevMajor, e.rdevMinor];
  return l;
}

/**
 * `cpio -tv`-like line with numeric owners (names from this host would be
 * misleading for an image) and UTC times; the name and link target are the
 * stored bytes, as in the short listing.
 */
export function longLine(e: Entry, rawName?: Buffer): Buffer {
  const size = e.type === 'char' || e.type === 'block' ? `${e.rdevMajor}, ${e.rdevMinor}` : String(e.size);
  const when = new Date(e.mtime * 1000).toISOString().slice(0, 16).replace('T', ' ');
  const head = `${modeString(e.mode)} ${String(e.nlink).padStart(3)} ${String(e.uid).padEnd(5)} ${String(e.gid).padEnd(5)} ${size.padStart(10)} ${when} `;
  const parts = [Buffer.from(head), rawName ?? Buffer.from(e.name)];
  if (e.type === 'symlink') parts.push(ARROW, e.rawTarget ?? Buffer.from(e.target ?? ''));
  parts.push(NL);
  return Buffer.concat(parts);
}
const ARROW = Buffer.from(' -> ');
const NL = Buffer.from('\n');

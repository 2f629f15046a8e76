import { createHash } from 'node:crypto';
import type { EntryType } from '../cpio/entry.js';
import { normalizeName } from '../image/names.js';
import { readImage, type ReadOptions } from '../image/read.js';

/** What one path is at boot, after every segment has been unpacked in order. */
export interface ViewEntry {
  /** Normalised path ("" is the root). */
  path: string;
  type: EntryType;
  /** Permission bits with setuid/setgid/sticky. */
  perm: number;
  uid: number;
  gid: number;
  mtime: number;
  /** Bytes of content (a hard link's size is its group's data size). */
  size: number;
  nlink: number;
  target?: string;
  rdevMajor: number;
  rdevMinor: number;
  /** sha256 of the content (regular files), when asked for. */
  sha256?: string;
  /** Segment the winning entry came from. */
  segment: number;
  /** The content, for paths listed in `contents`. */
  content?: Buffer;
}

export interface ViewOptions extends ReadOptions {
  /** Hash regular files' contents (sha256, streamed). */
  hash?: boolean;
  /** Keep the content of these (normalised) paths in memory: for small files only. */
  contents?: ReadonlySet<string>;
}

/**
 * The image as the kernel leaves it: entries by path, a later segment's entry
 * replacing an earlier one. Hard links get their group's content (newc stores
 * it on the last name; the kernel links every name to one inode), and the
 * link table is per archive, as the kernel resets it at each TRAILER!!!.
 */
export async function mergedView(image: string, opts: ViewOptions = {}): Promise<Map<string, ViewEntry>> {
  const view = new Map<string, ViewEntry>();
  let archive = -1;
  let groups = new Map<string, ViewEntry[]>();
  for await (const ev of readImage(image, opts)) {
    if (ev.kind !== 'entry') continue;
    if (ev.archive !== archive) {
      archive = ev.archive;
      groups = new Map();
    }
    const e = ev.entry;
    const v: ViewEntry = {
      path: normalizeName(e.name),
      type: e.type,
      perm: e.mode & 0o7777,
      uid: e.uid,
      gid: e.gid,
      mtime: e.mtime,
      size: e.size,
      nlink: e.nlink,
      target: e.target,
      rdevMajor: e.rdevMajor,
      rdevMinor: e.rdevMinor,
      segment: ev.segment.index,
    };
    let group: ViewEntry[] | undefined;
    if (e.nlink > 1 && e.type !== 'dir') {
      const key = `${e.ino}:${e.devMajor}:${e.devMinor}:${e.mode}`;
      group = groups.get(key);
      if (!group) groups.set(key, (group = []));
      group.push(v);
    }
    if (e.type === 'file' && e.size > 0) {
      const members = group ?? [v];
      const keep = opts.contents && members.some((m) => opts.contents!.has(m.path));
      const h = opts.hash ? createHash('sha256') : undefined;
      const chunks: Buffer[] = [];
      if (h || keep) {
        for await (const c of ev.body()) {
          h?.update(c);
          if (keep) chunks.push(Buffer.from(c));
        }
      }
      const digest = h?.digest('hex');
      const content = keep ? Buffer.concat(chunks) : undefined;
      for (const m of members) {
        m.size = e.size;
        if (digest) m.sha256 = digest;
        if (content && opts.contents!.has(m.path)) m.content = content;
      }
    } else if (e.type === 'file') {
      // An empty file, or a hard-link name whose content is the group's so far (newc brings it with the last name).
      const first = group && group.length > 1 ? group[0] : undefined;
      v.size = first?.size ?? 0;
      if (opts.hash) v.sha256 = first?.sha256 ?? EMPTY_SHA256;
      if (opts.contents?.has(v.path)) v.content = first?.content ?? Buffer.alloc(0);
    }
    view.set(v.path, v);
  }
  return view;
}

const EMPTY_SHA256 = createHash('sha256').digest('hex');


import { closeSync, createReadStream, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { once } from 'node:events';
import { RdError, EXIT } from '../errors.js';
import { normalizeName } from './names.js';
import { readImage, type ReadOptions } from './read.js';

/** Files up to this size are held in memory until the image is read; larger ones wait in a temporary file. */
const IN_MEMORY = 8 << 20;

type Held = { kind: 'mem'; chunks: Buffer[] } | { kind: 'file'; path: string };

/**
 * Writes the named files to `out`, in the order asked. A path present in
 * several segments gives the last copy, as at boot; a hard link whose data
 * sits on a later name of its group gets that data. When reading stops at
 * damage, the files complete before it are still written (a later copy may
 * have been lost: the error says where), then the error is thrown.
 */
export async function catFiles(image: string, paths: string[], out: Writable, opts: ReadOptions = {}): Promise<void> {
  const wanted = new Map(paths.map((p) => [normalizeName(p), p]));
  const found = new Map<string, Held | { kind: 'other'; what: string }>();
  let tmp: string | undefined;
  let stopped: unknown;
  try {
    // per archive: hard-link group key -> wanted names waiting for the group's data
    let pendingLinks = new Map<string, string[]>();
    let archive = -1;
    try {
      for await (const ev of readImage(image, { ...opts, withSkipped: true })) {
        if (ev.kind !== 'entry') continue;
        if (ev.archive !== archive) {
          archive = ev.archive;
          pendingLinks = new Map();
        }
        const e = ev.entry;
        const rel = normalizeName(e.name);
        if (ev.skip) {
          // Of the entries the kernel skips, only a data-less one of unknown type changes the tree: do_name()'s clean_path() removes what has its name.
          if (e.type === 'unknown' && e.size === 0) found.delete(rel);
          continue;
        }
        const key = e.type === 'file' && e.nlink > 1 ? `${e.ino}:${e.devMajor}:${e.devMinor}:${e.mode}` : undefined;
        const targets: string[] = [];
        if (wanted.has(rel)) {
          if (e.type !== 'file') found.set(rel, { kind: 'other', what: e.type === 'symlink' ? `a symlink to ${e.target}` : `a ${e.type === 'dir' ? 'directory' : e.type}` });
          else targets.push(rel);
        }
        if (key) {
          const waiting = pendingLinks.get(key) ?? [];
          if (e.size === 0) {
            waiting.push(...targets);
            pendingLinks.set(key, waiting);
            for (const t of targets) found.set(t, { kind: 'mem', chunks: [] });
            continue;
          }
          targets.push(...waiting);
          pendingLinks.delete(key);
        }
        if (targets.length === 0) continue;
        const held = await hold(ev.body(), e.size, () => (tmp ??= mkdtempSync(join(tmpdir(), 'rdrescue-cat-'))), rel);
        // A body cut short is never printed as if whole: the read fails right after it.
        if (held) for (const t of targets) found.set(t, held);
      }
    } catch (err) {
      if (!(err instanceof RdError)) throw err;
      stopped = err;
    }
    for (const [rel, asked] of wanted) {
      const h = found.get(rel);
      if (!h && stopped) continue;
      if (!h) throw new RdError(`${JSON.stringify(asked)} is not in the image`, { file: image }, EXIT.failure);
      if (h.kind === 'other') throw new RdError(`${JSON.stringify(asked)} is ${h.what}, not a file`, { file: image }, EXIT.failure);
    }
    for (const rel of wanted.keys()) {
      const h = found.get(rel) as Held | undefined;
      if (!h) continue;
      if (h.kind === 'mem') {
        for (const c of h.chunks) if (!out.write(c)) await once(out, 'drain');
      } else {
        for await (const c of createReadStream(h.path)) if (!out.write(c)) await once(out, 'drain');
      }
    }
    if (stopped) throw stopped;
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}

/** The whole body, or undefined when the data ends early. */
async function hold(body: AsyncGenerator<Buffer>, size: number, tmpDir: () => string, rel: string): Promise<Held | undefined> {
  let got = 0;
  if (size <= IN_MEMORY) {
    const chunks: Buffer[] = [];
    for await (const c of body) {
      chunks.push(Buffer.from(c));
      got += c.length;
    }
    return got === size ? { kind: 'mem', chunks } : undefined;
  }
  const path = join(tmpDir(), rel.replace(/\//g, '_') + '-' + Math.random().toString(36).slice(2));
  // Written before the next chunk is read: a chunk is reused once the reader moves on (compression/buffers.ts).
  const fd = openSync(path, 'wx', 0o600);
  try {
    for await (const c of body) {
      got += c.length;
      for (let off = 0; off < c.length; ) off += writeSync(fd, c, off);
    }
  } finally {
    closeSync(fd);
  }
  return got === size ? { kind: 'file', path } : undefined;
}

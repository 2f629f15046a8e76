import { createReadStream, statSync } from 'node:fs';
import type { Compression } from '../compression/index.js';
import type { EntryType } from '../cpio/entry.js';
import type { WriteEntry } from '../cpio/writer.js';
import { checkDest } from '../elf/tree.js';
import { RdError, EXIT } from '../errors.js';
import { rewriteUkiInitrd } from '../image/uki-write.js';
import { isUkiFile, refuseWritingUki } from '../image/write-refusal.js';
import { ImageOutput, writeSegment } from './image-output.js';
import { mergedView } from './merged-view.js';
import { envSourceDateEpoch } from './tree-source.js';

export interface AppendOptions {
  /** Compression of the new segment (default none: an uncompressed archive, which every kernel reads). */
  compress?: Compression | 'none';
  level?: number;
  /** Told about entries left out because the image already has what they would create. */
  onWarning?: (message: string) => void;
  /** A UKI as IMAGE gets a new .initrd: the new UKI is no longer signed (see uki-write.ts). */
  unsignedOk?: boolean;
}

/** What a path is in the image plus what this segment has planned so far. */
interface Node {
  type: EntryType;
  target?: string;
  nlink: number;
}

/** Linux's MAXSYMLINKS. */
const MAX_HOPS = 40;

/**
 * Appends one segment to a copy of `image`, leaving the original bytes
 * untouched at the start of `out`: the kernel unpacks it over the old tree.
 *
 * The segment is planned against the image's merged view, because the kernel
 * neither creates missing parents nor tolerates some overlaps:
 * - missing parent directories are added (0755, root) before their children;
 *   existing ones are not repeated, so their modes stay as they are;
 * - names are resolved through the image's symlinks (bin/x becomes usr/bin/x
 *   when bin -> usr/bin, a directory given as lib goes to usr/lib), since a
 *   directory entry `bin` would make the kernel unlink the usr-merge link and
 *   shadow everything in usr/bin;
 * - a symlink where the image has a directory is left out (the kernel cannot
 *   replace a non-empty directory);
 * - a file over an existing hard-linked file is preceded by a symlink at the
 *   same name: the kernel opens an existing regular file with O_TRUNC and
 *   writes through it, which would overwrite every other name of the inode
 *   (all 267 busybox applets in Debian's image), while a different type
 *   makes it unlink the name first.
 *
 * `out` is written to a temporary file and renamed, so a failure leaves no
 * partial image, and `out === image` is safe.
 */
export async function appendSegment(
  image: string,
  out: string,
  entries: AsyncIterable<WriteEntry> | Iterable<WriteEntry>,
  opts: AppendOptions = {},
): Promise<{ originalBytes: number; newBytes: number }> {
  refuseWritingUki(image, out, opts.unsignedOk);
  if (opts.unsignedOk && isUkiFile(image)) {
    const r = await rewriteUkiInitrd(image, out, (initrd, next) => appendSegment(initrd, next, entries, { ...opts, unsignedOk: false }));
    for (const w of r.warnings) opts.onWarning?.(w);
    return { originalBytes: statSync(image).size, newBytes: statSync(out).size };
  }
  const view = new Map<string, Node>();
  for (const [p, v] of await mergedView(image)) view.set(p, { type: v.type, target: v.target, nlink: v.nlink });
  const planned: WriteEntry[] = [];
  const given: WriteEntry[] = [];
  for await (const e of entries) given.push(e);
  let ino = given.reduce((m, e) => Math.max(m, e.ino), 0);
  const sde = envSourceDateEpoch();
  const now = Math.floor(Date.now() / 1000);
  const dirTime = sde !== undefined && sde < now ? sde : now;
  const warn = opts.onWarning ?? (() => undefined);
  const implicitDir = (m: string) => {
    planned.push({ name: m, type: 'dir', perm: 0o755, uid: 0, gid: 0, mtime: dirTime, ino: ++ino, nlink: 2, size: 0 });
    view.set(m, { type: 'dir', nlink: 2 });
  };

  for (const e of given) {
    const norm = checkDest(e.name, 'entry name').slice(1);
    if (norm === '') {
      planned.push({ ...e, name: '.' });
      continue;
    }
    if (e.type === 'dir') {
      // A directory goes where the image's symlinks lead, the last one included (lib -> usr/lib stays a link).
      const { real, missing } = resolveDir(view, norm, e.name);
      for (const m of missing) if (m !== real) implicitDir(m);
      planned.push({ ...e, name: real || '.' });
      view.set(real, { type: 'dir', nlink: e.nlink });
      continue;
    }
    const slash = norm.lastIndexOf('/');
    const base = norm.slice(slash + 1);
    const { real, missing } = resolveDir(view, slash < 0 ? '' : norm.slice(0, slash), e.name);
    for (const m of missing) implicitDir(m);
    const name = real ? `${real}/${base}` : base;
    const have = view.get(name);
    if (have?.type === 'dir') {
      if (e.type === 'symlink') {
        warn(`kept the image's directory ${name} instead of a symlink to ${String(targetOf(e))}`);
        continue;
      }
      throw new RdError(`cannot put a ${e.type} at ${name}: the image has a directory there`, { entry: e.name }, EXIT.refused);
    }
    if (e.type === 'symlink' && have?.type === 'symlink' && have.target === targetOf(e)) continue;
    if (e.type === 'file' && have?.type === 'file' && have.nlink > 1) {
      const t = Buffer.from('.');
      planned.push({ name, type: 'symlink', perm: 0o777, uid: 0, gid: 0, mtime: dirTime, ino: ++ino, nlink: 1, size: t.length, data: () => [t] });
    }
    planned.push({ ...e, name });
    view.set(name, { type: e.type, target: e.type === 'symlink' ? targetOf(e) : undefined, nlink: e.nlink });
  }

  return ImageOutput.write(out, async (o) => {
    await o.writeAll(createReadStream(image, { highWaterMark: 1 << 20 }));
    const originalBytes = o.offset;
    // An appended archive that is not 4-byte aligned is dropped by the kernel ("invalid magic at start of compressed archive").
    o.padTo(4);
    await writeSegment(o, { entries: planned, compress: opts.compress ?? 'none', level: opts.level });
    return { originalBytes, newBytes: o.offset };
  });
}

/** A symlink entry's target text, when it is given in memory (the form every builder here uses). */
function targetOf(e: WriteEntry): string | undefined {
  if (e.type !== 'symlink' || !e.data) return undefined;
  const parts = e.data();
  if (!Array.isArray(parts)) return undefined;
  return Buffer.concat(parts as Uint8Array[]).toString('utf8');
}

/**
 * Where a directory path lands in the image, following its symlinks the way
 * path lookup would with the image as root, and which directories on the way
 * do not exist yet (in creation order).
 */
function resolveDir(view: Map<string, Node>, dir: string, entryName: string): { real: string; missing: string[] } {
  const queue = dir.split('/').filter(Boolean);
  const out: string[] = [];
  const missing: string[] = [];
  let hops = 0;
  while (queue.length) {
    const c = queue.shift()!;
    if (c === '.') continue;
    if (c === '..') {
      out.pop();
      continue;
    }
    out.push(c);
    const p = out.join('/');
    const v = view.get(p);
    if (!v) {
      if (!missing.includes(p)) missing.push(p);
      continue;
    }
    if (v.type === 'dir') continue;
    if (v.type === 'symlink') {
      if (++hops > MAX_HOPS) throw new RdError(`too many levels of symlinks in the image under ${p}`, { entry: entryName }, EXIT.refused);
      out.pop();
      const t = v.target ?? '';
      if (t.startsWith('/')) out.length = 0;
      queue.unshift(...t.split('/').filter(Boolean));
      continue;
    }
    throw new RdError(`cannot put anything under ${p}: the image has a ${v.type} there`, { entry: entryName }, EXIT.refused);
  }
  return { real: out.join('/'), missing: missing.filter((m) => !view.has(m)) };
}

import { spawnSync } from 'node:child_process';
import { closeSync, constants, fchmodSync, fchownSync, futimesSync, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, openSync, renameSync, rmSync, unlinkSync, symlinkSync, writeSync, chmodSync, utimesSync, readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Entry } from '../cpio/entry.js';
import { RdError, EXIT, locate } from '../errors.js';
import { normalizeName, nameFilter } from './names.js';
import { readImage, type ReadOptions } from './read.js';
import { joinBytes } from '../cpio/name-bytes.js';
import { bytePath, CREATE_FLAGS, SafeTree } from './safe-tree.js';
import type { Segment } from './segment.js';

export interface ExtractOptions extends ReadOptions {
  /** Extract every segment into the destination, in order: the tree the kernel would see. */
  merged?: boolean;
  /** Shell globs; only matching entries are extracted. */
  patterns?: string[];
  /** Restore owners (default: when running as root). */
  owners?: boolean;
  /** Called for things skipped (device nodes as non-root, sockets). */
  onWarning?: (message: string) => void;
}

export interface ExtractReport {
  segments: Array<Segment & { dir: string }>;
  entries: number;
  files: number;
  bytes: number;
  skipped: number;
}

/**
 * The unmkinitramfs layout: uncompressed segments before the first compressed
 * one go to early, early2, …; the first compressed one to main; all later
 * ones to main2, main3, …. A one-segment image extracts straight into the
 * destination.
 */
export function layoutName(segments: ReadonlyArray<Pick<Segment, 'compression'>>, index: number): string {
  let early = 0;
  let main = 0;
  for (let i = 0; i <= index; i++) {
    if (main === 0 && segments[i].compression === 'none') early++;
    else main++;
  }
  if (main === 0) return early === 1 ? 'early' : `early${early}`;
  return main === 1 ? 'main' : `main${main}`;
}

interface DirFix {
  path: Buffer;
  mode: number;
  mtime: number;
}

/** Writes entries of one tree (one segment, or all of them with merged). */
export class TreeWriter {
  readonly tree: SafeTree;
  private links = new Map<string, Buffer>();
  private dirs: DirFix[] = [];
  files = 0;
  bytes = 0;
  skipped = 0;
  /** The mask open(2) applies to a new file's mode. */
  private readonly umask = process.umask();

  constructor(
    root: string,
    private owners: boolean,
    private warn: (m: string) => void,
  ) {
    mkdirSync(root, { recursive: true });
    this.tree = new SafeTree(root);
  }

  /** newc hard links are per archive: the kernel forgets them at each TRAILER. */
  resetLinks(): void {
    this.links.clear();
  }

  /** `rawName`: the stored name's bytes when they are not UTF-8; the entry is created under exactly those bytes. */
  async write(e: Entry, body: () => AsyncGenerator<Buffer, void, undefined>, rawName?: Buffer): Promise<void> {
    // Normalising the byte string works on bytes: "/" and "." are single bytes in UTF-8 and latin1 alike.
    const rel = normalizeName(bytePath(e.name, rawName));
    const perm = e.mode & 0o7777;
    if (e.type === 'dir') {
      this.tree.makeDir(rel, e.name);
      const p = this.tree.abs(rel);
      if (this.owners) lchownSync(p, e.uid, e.gid);
      this.dirs.push({ path: p, mode: perm, mtime: e.mtime });
      return;
    }
    if (rel === '') throw new RdError(`entry ${JSON.stringify(e.name)} would replace the destination directory itself`, {}, EXIT.refused);
    this.tree.ensureParents(rel, e.name);
    const p = this.tree.abs(rel);
    switch (e.type) {
      case 'file': {
        const key = e.nlink > 1 ? `${e.ino}:${e.devMajor}:${e.devMinor}:${e.mode}` : undefined;
        const first = key ? this.links.get(key) : undefined;
        let fd: number;
        // Plain permission bits the umask keeps can be given at creation, saving a chmod per file.
        // Special bits wait for fchmod: a chown after them would clear setuid and setgid.
        let chmod = true;
        if (first !== undefined) {
          // Later names of a hard-link group join the first; newc puts the data on the last one.
          this.create(rel, e.name, () => linkSync(first, p));
          fd = openSync(p, constants.O_WRONLY | constants.O_NOFOLLOW);
        } else {
          chmod = perm > 0o777 || (perm & ~this.umask) !== perm;
          fd = this.create(rel, e.name, () => openSync(p, CREATE_FLAGS, chmod ? 0o600 : perm));
          if (key) this.links.set(key, p);
        }
        try {
          for await (const chunk of body()) {
            let off = 0;
            while (off < chunk.length) off += writeSync(fd, chunk, off);
            this.bytes += chunk.length;
          }
          if (this.owners) fchownSync(fd, e.uid, e.gid);
          if (chmod) fchmodSync(fd, perm);
          futimesSync(fd, e.mtime, e.mtime);
        } finally {
          closeSync(fd);
        }
        this.files++;
        return;
      }
      case 'symlink':
        this.create(rel, e.name, () => symlinkSync(e.rawTarget ?? Buffer.from(e.target ?? ''), p));
        if (this.owners) lchownSync(p, e.uid, e.gid);
        lutimesSync(p, e.mtime, e.mtime);
        return;
      default:
        this.makeNode(e, rel, p);
    }
  }

  /**
   * Creates the last component of `rel` with `make`, which must fail with
   * EEXIST rather than follow or reuse anything there (O_EXCL|O_NOFOLLOW,
   * link, symlink). Whatever is in the way is cleared, then `make` runs again:
   * one system call in the usual case, instead of a stat before every entry.
   */
  private create<T>(rel: string, name: string, make: () => T): T {
    try {
      return make();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      this.tree.clear(rel, name);
      return make();
    }
  }

  private makeNode(e: Entry, rel: string, p: Buffer): void {
    const isDev = e.type === 'char' || e.type === 'block';
    if (e.type === 'socket') {
      this.warn(`skipped socket ${e.name}: sockets are created by the programs that listen on them`);
      this.skipped++;
      return;
    }
    if (isDev && process.getuid?.() !== 0) {
      this.warn(`skipped device node ${e.name}: creating devices needs root`);
      this.skipped++;
      return;
    }
    this.tree.clear(rel, e.name);
    // Node has no mknod(2); coreutils and busybox both ship mknod(1). Its argument is text, so the node is
    // made under a fixed name in the root and renamed to the stored name's exact bytes.
    const made = join(this.tree.root, `.rdrescue-mknod-${process.pid}`);
    const args = e.type === 'fifo' ? [made, 'p'] : [made, e.type === 'char' ? 'c' : 'b', String(e.rdevMajor), String(e.rdevMinor)];
    rmSync(made, { force: true });
    const r = spawnSync('mknod', ['-m', (e.mode & 0o7777).toString(8), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    if (r.error || r.status !== 0) {
      this.warn(`skipped ${e.type} ${e.name}: mknod failed: ${r.error?.message ?? r.stderr.toString().trim()}`);
      this.skipped++;
      return;
    }
    renameSync(made, p);
    if (this.owners) lchownSync(p, e.uid, e.gid);
    chmodSync(p, e.mode & 0o7777);
    utimesSync(p, e.mtime, e.mtime);
  }

  /** Directory modes and mtimes last, since creating their contents changes them (the kernel's dir_utime). */
  finish(): void {
    for (let i = this.dirs.length - 1; i >= 0; i--) {
      const d = this.dirs[i];
      chmodSync(d.path, d.mode);
      utimesSync(d.path, d.mtime, d.mtime);
    }
    this.dirs = [];
  }
}

/**
 * Extracts an image like `cpio -idm` per segment (layout of unmkinitramfs),
 * or merged. Nothing is written outside `dest`: names are confined to it and
 * no symlink is ever followed, including ones the archive itself creates.
 */
export async function extractImage(image: string, dest: string, opts: ExtractOptions = {}): Promise<ExtractReport> {
  const owners = opts.owners ?? process.getuid?.() === 0;
  const warn = opts.onWarning ?? (() => undefined);
  const match = nameFilter(opts.patterns);
  const done: Array<Segment & { dir: string }> = [];
  const report: ExtractReport = { segments: done, entries: 0, files: 0, bytes: 0, skipped: 0 };
  const segs: Segment[] = [];
  mkdirSync(dest, { recursive: true });
  // Until a second segment shows up we cannot tell whether the first belongs in
  // dest itself or in dest/early|main, so it goes to a staging directory.
  const staging = join(dest, `.rdrescue-partial-${process.pid}`);
  let writer: TreeWriter | undefined;
  let current = -1;
  let archive = 0;
  const tally = (w: TreeWriter) => {
    report.files += w.files;
    report.bytes += w.bytes;
    report.skipped += w.skipped;
  };
  try {
    if (opts.merged) writer = new TreeWriter(dest, owners, warn);
    for await (const ev of readImage(image, opts)) {
      if (ev.kind === 'segment') {
        segs.push(ev.segment);
        if (!opts.merged && writer) {
          writer.finish();
          tally(writer);
          writer = undefined;
        }
        done.push({ ...ev.segment, dir: opts.merged ? dest : ev.segment.index === 0 ? staging : join(dest, layoutName(segs, ev.segment.index)) });
        continue;
      }
      if (!opts.merged && ev.segment.index !== current) {
        current = ev.segment.index;
        if (current === 1) {
          const first = join(dest, layoutName(segs, 0));
          moveInto(staging, first);
          done[0].dir = first;
        }
        const dir = current === 0 ? staging : join(dest, layoutName([...segs, ev.segment], current));
        writer = new TreeWriter(dir, owners, warn);
      }
      if (ev.archive !== archive) {
        archive = ev.archive;
        writer?.resetLinks();
      }
      if (!match(ev.entry.name)) continue;
      report.entries++;
      try {
        await writer!.write(ev.entry, ev.body, ev.rawName);
      } catch (e) {
        locate(e, { file: image, segment: ev.segment.index, entry: ev.entry.name });
      }
    }
    if (writer) {
      writer.finish();
      tally(writer);
    }
    if (!opts.merged && segs.length === 1) {
      moveInto(staging, dest);
      done[0].dir = dest;
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return report;
}

/**
 * Moves staged entries into `to`. Directories merge into existing real
 * directories; a file, link or node at the destination (a planted symlink
 * included) is replaced rather than followed; a non-empty directory is never
 * deleted to make room.
 */
function moveInto(from: string | Buffer, to: string | Buffer): void {
  mkdirSync(to, { recursive: true });
  // Names as bytes: a stored name that is not UTF-8 moves unchanged.
  for (const name of readdirSync(from, { encoding: 'buffer' })) {
    const src = joinBytes(from, name);
    const dst = joinBytes(to, name);
    const d = lstatSync(dst, { throwIfNoEntry: false });
    const s = lstatSync(src);
    if (d?.isDirectory() && s.isDirectory()) {
      moveInto(src, dst);
      rmdirSync(src);
      continue;
    }
    if (d?.isDirectory()) {
      try {
        rmdirSync(dst);
      } catch {
        throw new RdError(`cannot replace non-empty directory ${JSON.stringify(dst.toString())} with ${JSON.stringify(name.toString())}`, {}, EXIT.refused);
      }
    } else if (d) unlinkSync(dst);
    renameSync(src, dst);
  }
  // The staged directory carries the archive's own metadata for it (the "." entry at the top).
  const meta = lstatSync(from);
  lchownSync(to, meta.uid, meta.gid);
  chmodSync(to, meta.mode & 0o7777);
  utimesSync(to, meta.atime, meta.mtime);
}

import { spawnSync } from 'node:child_process';
import { closeSync, constants, fchmodSync, ftruncateSync, fchownSync, futimesSync, lchownSync, linkSync, lstatSync, lutimesSync, openSync, renameSync, rmSync, unlinkSync, symlinkSync, writeSync, chmodSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { makeDirs } from './make-dirs.js';
import type { Entry } from '../cpio/entry.js';
import { RdError, EXIT, locate, systemCause } from '../errors.js';
import { normalizeName, nameFilter } from './names.js';
import { readImage, type ReadOptions } from './read.js';
import { moveInto, removeTree } from './move-tree.js';
import { bytePath, CREATE_FLAGS, SafeTree, show, type BytePath, type PathOf } from './safe-tree.js';
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

/**
 * A segment's directory in DIR (early, main, …). It is written into like DIR
 * itself, so one planted there as a link is refused, as any link on the way.
 */
function layoutDir(dest: string, name: string): string {
  const dir = join(dest, name);
  const st = lstatSync(dir, { throwIfNoEntry: false });
  if (st && !st.isDirectory()) {
    throw new RdError(`refusing to extract into ${dir}: it is ${st.isSymbolicLink() ? 'a symlink (would write outside the destination)' : 'not a directory'}`, {}, EXIT.refused);
  }
  return dir;
}

interface DirFix {
  rel: BytePath;
  mode: number;
  mtime: number;
}

/** Writes entries of one tree (one segment, or all of them with merged). */
export class TreeWriter {
  readonly tree: SafeTree;
  private links = new Map<string, BytePath>();
  private dirs: DirFix[] = [];
  /** The directories the archive has entries for (the others were made only to hold something). */
  readonly archiveDirs = new Set<BytePath>();
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
    makeDirs(root);
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
      if (this.owners) this.tree.at(rel, (p) => lchownSync(p(rel), e.uid, e.gid));
      this.dirs.push({ rel, mode: perm, mtime: e.mtime });
      this.archiveDirs.add(rel);
      return;
    }
    if (rel === '') throw new RdError(`entry ${JSON.stringify(e.name)} would replace the destination directory itself`, {}, EXIT.refused);
    this.tree.ensureParents(rel, e.name);
    switch (e.type) {
      case 'file': {
        const key = e.nlink > 1 ? `${e.ino}:${e.devMajor}:${e.devMinor}:${e.mode}` : undefined;
        const first = key ? this.links.get(key) : undefined;
        let fd: number | undefined;
        // Plain permission bits the umask keeps can be given at creation, saving a chmod per file.
        // Special bits wait for fchmod: a chown after them would clear setuid and setgid.
        let chmod = true;
        if (first !== undefined) {
          // Later names of a hard-link group join the first; newc puts the data on the last one.
          fd = this.create(e, rel, first, (p) => {
            linkSync(p(first), p(rel));
            return openSync(p(rel), constants.O_WRONLY | constants.O_NOFOLLOW);
          });
        } else {
          chmod = perm > 0o777 || (perm & ~this.umask) !== perm;
          fd = this.create(e, rel, rel, (p) => openSync(p(rel), CREATE_FLAGS, chmod ? 0o600 : perm));
          if (key && fd !== undefined) this.links.set(key, rel);
        }
        if (fd === undefined) return;
        let got = 0;
        try {
          try {
            for await (const chunk of body()) {
              let off = 0;
              while (off < chunk.length) off += writeSync(fd, chunk, off);
              got += chunk.length;
            }
          } finally {
            // The image ends inside this file (its data stops short, or the decoder fails there):
            // its other names (a hard-link group) must not hold a cut body either.
            if (got < e.size) ftruncateSync(fd, 0);
          }
          if (this.owners) fchownSync(fd, e.uid, e.gid);
          if (chmod) fchmodSync(fd, perm);
          futimesSync(fd, e.mtime, e.mtime);
        } finally {
          closeSync(fd);
          this.bytes += got;
          // Nor is a cut file left looking whole under this name: the read error names it.
          if (got < e.size) this.tree.at(rel, (p) => unlinkSync(p(rel)));
        }
        if (got < e.size) return;
        this.files++;
        return;
      }
      case 'symlink':
        this.create(e, rel, rel, (p) => {
          symlinkSync(e.rawTarget ?? Buffer.from(e.target ?? ''), p(rel));
          if (this.owners) lchownSync(p(rel), e.uid, e.gid);
          lutimesSync(p(rel), e.mtime, e.mtime);
        });
        return;
      default:
        this.makeNode(e, rel);
    }
  }

  /**
   * Creates the last component of `rel` with `make`, which must fail with
   * EEXIST rather than follow or reuse anything there (O_EXCL|O_NOFOLLOW,
   * link, symlink). Whatever is in the way is cleared, then `make` runs again:
   * one system call in the usual case, instead of a stat before every entry.
   * A non-empty directory in the way is kept and the entry skipped, as the
   * kernel's do_name() skips it: undefined is returned.
   */
  private create<T>(e: Entry, rel: BytePath, longest: BytePath, make: (p: PathOf) => T): T | undefined {
    const long = longest.length > rel.length ? longest : rel;
    try {
      return this.tree.at(long, make);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (!this.tree.clear(rel)) {
        this.skip(e, `${show(rel)} is a non-empty directory here (the kernel keeps the directory too)`);
        return undefined;
      }
      return this.tree.at(long, make);
    }
  }

  /**
   * An entry the kernel creates nothing for. One of unknown type without data
   * still reaches do_name(), whose clean_path() removes what is at its name
   * (no existing type matches an unknown one), so that is removed here too.
   */
  drop(e: Entry, why: string, rawName?: Buffer): void {
    if (e.type === 'unknown' && e.size === 0) {
      const rel = normalizeName(bytePath(e.name, rawName));
      if (rel !== '' && this.tree.remove(rel)) why += `; ${show(rel)} was there and is removed, as the kernel's clean_path() removes it`;
    }
    this.skip(e, why);
  }

  skip(e: Entry, why: string): void {
    this.warn(`skipped ${e.type === 'unknown' ? 'entry' : e.type} ${JSON.stringify(e.name)}: ${why}`);
    this.skipped++;
  }

  private makeNode(e: Entry, rel: BytePath): void {
    const isDev = e.type === 'char' || e.type === 'block';
    if (e.type === 'socket') return this.skip(e, 'sockets are created by the programs that listen on them');
    if (isDev && process.getuid?.() !== 0) return this.skip(e, 'creating devices needs root');
    if (!this.tree.clear(rel)) return this.skip(e, `${show(rel)} is a non-empty directory here (the kernel keeps the directory too)`);
    // Node has no mknod(2); coreutils and busybox both ship mknod(1). Its argument is text, so the node is
    // made under a fixed name in the root and renamed to the stored name's exact bytes.
    const made = join(this.tree.root, `.rdrescue-mknod-${process.pid}`);
    const args = e.type === 'fifo' ? [made, 'p'] : [made, e.type === 'char' ? 'c' : 'b', String(e.rdevMajor), String(e.rdevMinor)];
    rmSync(made, { force: true });
    const r = spawnSync('mknod', ['-m', (e.mode & 0o7777).toString(8), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    if (r.error || r.status !== 0) return this.skip(e, `mknod failed: ${r.error?.message ?? r.stderr.toString().trim()}`);
    this.tree.at(rel, (p) => {
      renameSync(made, p(rel));
      if (this.owners) lchownSync(p(rel), e.uid, e.gid);
      chmodSync(p(rel), e.mode & 0o7777);
      utimesSync(p(rel), e.mtime, e.mtime);
    });
  }

  /**
   * Directory modes and mtimes last, since creating their contents changes
   * them (the kernel's dir_utime()); also after a failure, so no tree is left
   * at the 0700 directories are made with. A directory a later entry replaced
   * is left alone: chmod would follow a symlink put in its place.
   */
  finish(): void {
    for (let i = this.dirs.length - 1; i >= 0; i--) {
      const d = this.dirs[i];
      this.tree.at(d.rel, (p) => {
        if (!lstatSync(p(d.rel), { throwIfNoEntry: false })?.isDirectory()) return;
        chmodSync(p(d.rel), d.mode);
        utimesSync(p(d.rel), d.mtime, d.mtime);
      });
    }
    this.dirs = [];
  }
}

/**
 * Extracts an image like `cpio -idm` per segment (layout of unmkinitramfs),
 * or merged. Nothing is written outside `dest`: names are confined to it and
 * no symlink is ever followed, including ones the archive itself creates.
 * Entries the kernel would skip are skipped with a warning. When reading
 * stops at damage, every entry before it stays written, directories get
 * their modes and mtimes, and then the error is thrown.
 */
export async function extractImage(image: string, dest: string, opts: ExtractOptions = {}): Promise<ExtractReport> {
  const owners = opts.owners ?? process.getuid?.() === 0;
  const warn = opts.onWarning ?? (() => undefined);
  const match = nameFilter(opts.patterns);
  const done: Array<Segment & { dir: string }> = [];
  const report: ExtractReport = { segments: done, entries: 0, files: 0, bytes: 0, skipped: 0 };
  const segs: Segment[] = [];
  try {
    makeDirs(dest);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const cause = code === 'EEXIST' || code === 'ENOTDIR' ? 'it or a parent is not a directory' : systemCause(e);
    if (cause) throw new RdError(`cannot create ${dest}: ${cause}`, {}, EXIT.failure);
    throw e;
  }
  // Until a second segment shows up we cannot tell whether the first belongs in
  // dest itself or in dest/early|main, so it goes to a staging directory.
  const staging = join(dest, `.rdrescue-partial-${process.pid}`);
  let staged = false;
  let stagedDirs = new Set<BytePath>();
  let writer: TreeWriter | undefined;
  let current = -1;
  let archive = 0;
  const close = () => {
    if (!writer) return;
    const w = writer;
    writer = undefined;
    w.finish();
    report.files += w.files;
    report.bytes += w.bytes;
    report.skipped += w.skipped;
  };
  /** Segment 0 leaves staging: for dest itself when it is the only segment, else its layout directory. */
  const place = (more: boolean) => {
    if (!staged) return;
    staged = false;
    const to = more || segs.length > 1 ? layoutDir(dest, layoutName(segs, 0)) : dest;
    try {
      moveInto(staging, to, stagedDirs);
    } catch (e) {
      const cause = systemCause(e);
      if (cause) throw new RdError(`cannot move the extracted tree into ${to}: ${cause}`, { file: image }, EXIT.failure);
      throw e;
    }
    if (done[0]) done[0].dir = to;
  };
  try {
    if (opts.merged) writer = new TreeWriter(dest, owners, warn);
    for await (const ev of readImage(image, { ...opts, withSkipped: true, heavyConsumer: true })) {
      if (ev.kind === 'segment') {
        segs.push(ev.segment);
        if (!opts.merged) close();
        done.push({ ...ev.segment, dir: opts.merged ? dest : ev.segment.index === 0 ? staging : join(dest, layoutName(segs, ev.segment.index)) });
        continue;
      }
      if (!opts.merged && ev.segment.index !== current) {
        current = ev.segment.index;
        if (current === 1) place(true);
        const dir = current === 0 ? staging : layoutDir(dest, layoutName([...segs, ev.segment], current));
        writer = new TreeWriter(dir, owners, warn);
        if (current === 0) {
          staged = true;
          stagedDirs = writer.archiveDirs;
        }
      }
      if (ev.archive !== archive) {
        archive = ev.archive;
        writer?.resetLinks();
      }
      if (!match(ev.entry.name)) continue;
      report.entries++;
      try {
        if (ev.skip) writer!.drop(ev.entry, `${ev.skip} (the kernel skips it too)`, ev.rawName);
        else await writer!.write(ev.entry, ev.body, ev.rawName);
      } catch (e) {
        const where = { file: image, segment: ev.segment.index, entry: ev.entry.name };
        const cause = systemCause(e);
        if (cause) throw new RdError(`cannot create it in ${dest}: ${cause}`, where, EXIT.failure);
        locate(e, where);
      }
    }
  } finally {
    // Also after an error: what was written stays, with its directories' final modes.
    try {
      close();
      place(false);
    } finally {
      removeTree(staging);
    }
  }
  return report;
}

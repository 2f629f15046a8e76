import { constants, lstatSync, mkdirSync, rmdirSync, unlinkSync } from 'node:fs';
import { joinBytes } from '../cpio/name-bytes.js';
import { RdError, EXIT } from '../errors.js';

/**
 * A path inside the tree as a byte string: one char per byte (latin1), so a
 * stored name that is not UTF-8 is created exactly as stored, as cpio does.
 * It becomes a Buffer at each system call; `show` turns it back into text.
 */
export type BytePath = string;

/** The byte path of a stored name (`raw` when the name is not valid UTF-8). */
export function bytePath(name: string, raw?: Buffer): BytePath {
  return (raw ?? Buffer.from(name, 'utf8')).toString('latin1');
}

/** A byte path for messages. */
export function show(rel: BytePath): string {
  return JSON.stringify(Buffer.from(rel, 'latin1').toString('utf8'));
}

/** Hands out a path usable by the system call about to be made; valid only inside SafeTree.at(). */
export type PathOf = (rel: BytePath) => Buffer;

/**
 * Past this many bytes an absolute path may hit PATH_MAX (4096 with its NUL),
 * though the name inside the tree is legal (the kernel takes names up to
 * 4,095 bytes, whatever the length of DIR).
 */
const LONG_PATH = 4000;
const DOT = Buffer.from('.');

/**
 * Creates paths under one root without ever leaving it. Every parent of a
 * path must be a real directory (a symlink on the way is refused, whoever
 * made it), and the last component is removed before it is created, so an
 * existing file or link there is replaced, never written through.
 */
export class SafeTree {
  private knownDirs = new Set<BytePath>(['']);
  private readonly rootBytes: number;

  constructor(readonly root: string) {
    this.rootBytes = Buffer.byteLength(root);
  }

  abs(rel: BytePath): Buffer {
    return rel === '' ? Buffer.from(this.root) : joinBytes(this.root, Buffer.from(rel, 'latin1'));
  }

  /**
   * Runs synchronous system calls on paths in the tree. Node has no openat(),
   * so when DIR plus a name would pass PATH_MAX the calls run from inside the
   * root with relative paths, as cpio does from its working directory. The
   * working directory is restored before anything asynchronous can run; on
   * normal images the detour is never taken.
   */
  at<T>(longest: BytePath, op: (path: PathOf) => T): T {
    if (this.rootBytes + longest.length < LONG_PATH) return op((rel) => this.abs(rel));
    const back = process.cwd();
    process.chdir(this.root);
    try {
      return op((rel) => (rel === '' ? DOT : Buffer.from(rel, 'latin1')));
    } finally {
      process.chdir(back);
    }
  }

  /** Makes sure every parent directory of `rel` exists as a real directory. */
  ensureParents(rel: BytePath, name: string): void {
    const slash = rel.lastIndexOf('/');
    if (slash < 0) return;
    this.ensureDir(rel.slice(0, slash), name);
  }

  private ensureDir(rel: BytePath, name: string): void {
    if (this.knownDirs.has(rel)) return;
    const slash = rel.lastIndexOf('/');
    if (slash >= 0) this.ensureDir(rel.slice(0, slash), name);
    const st = this.at(rel, (p) => {
      const s = lstatSync(p(rel), { throwIfNoEntry: false });
      if (!s) mkdirSync(p(rel), 0o755);
      return s;
    });
    if (st?.isSymbolicLink()) {
      throw new RdError(`refusing to extract ${JSON.stringify(name)}: its parent ${show(rel)} is a symlink (would write outside the destination)`, {}, EXIT.refused);
    } else if (st && !st.isDirectory()) {
      throw new RdError(`cannot extract ${JSON.stringify(name)}: its parent ${show(rel)} is not a directory`, {}, EXIT.refused);
    }
    this.knownDirs.add(rel);
  }

  /**
   * Clears the place for a new non-directory entry: unlinks a file, link or
   * node, removes an empty directory. A non-empty directory stays, and the
   * answer is false: the kernel's clean_path() cannot remove it either, so
   * the entry is not created.
   */
  clear(rel: BytePath): boolean {
    return this.at(rel, (p) => {
      const st = lstatSync(p(rel), { throwIfNoEntry: false });
      if (!st) return true;
      if (!st.isDirectory()) {
        unlinkSync(p(rel));
        return true;
      }
      try {
        rmdirSync(p(rel));
      } catch {
        return false;
      }
      this.forget(rel);
      return true;
    });
  }

  /**
   * Removes what stands at `rel`, as clear() does, but creates nothing on the
   * way: when a parent is missing or is not a real directory, there is
   * nothing to remove. Returns whether something was removed.
   */
  remove(rel: BytePath): boolean {
    for (let slash = rel.indexOf('/'); slash >= 0; slash = rel.indexOf('/', slash + 1)) {
      const dir = rel.slice(0, slash);
      if (this.knownDirs.has(dir)) continue;
      if (!this.at(dir, (p) => lstatSync(p(dir), { throwIfNoEntry: false }))?.isDirectory()) return false;
      this.knownDirs.add(dir);
    }
    return this.at(rel, (p) => lstatSync(p(rel), { throwIfNoEntry: false })) !== undefined && this.clear(rel);
  }

  /** Prepares `rel` as a directory: keeps a real one, replaces anything else. Returns true if it was created. */
  makeDir(rel: BytePath, name: string): boolean {
    if (rel === '') return false;
    this.ensureParents(rel, name);
    const made = this.at(rel, (p) => {
      const st = lstatSync(p(rel), { throwIfNoEntry: false });
      if (st?.isDirectory()) return false;
      if (st) unlinkSync(p(rel));
      mkdirSync(p(rel), 0o700);
      return true;
    });
    this.knownDirs.add(rel);
    return made;
  }

  private forget(rel: BytePath): void {
    for (const d of this.knownDirs) if (d === rel || d.startsWith(rel + '/')) this.knownDirs.delete(d);
  }
}

/** Flags for creating a new regular file that can never follow a planted link. */
export const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

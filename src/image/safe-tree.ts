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

/**
 * Creates paths under one root without ever leaving it. Every parent of a
 * path must be a real directory (a symlink on the way is refused, whoever
 * made it), and the last component is removed before it is created, so an
 * existing file or link there is replaced, never written through.
 */
export class SafeTree {
  private knownDirs = new Set<BytePath>(['']);

  constructor(readonly root: string) {}

  abs(rel: BytePath): Buffer {
    return rel === '' ? Buffer.from(this.root) : joinBytes(this.root, Buffer.from(rel, 'latin1'));
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
    const p = this.abs(rel);
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (!st) mkdirSync(p, 0o755);
    else if (st.isSymbolicLink()) {
      throw new RdError(`refusing to extract ${JSON.stringify(name)}: its parent ${show(rel)} is a symlink (would write outside the destination)`, {}, EXIT.refused);
    } else if (!st.isDirectory()) {
      throw new RdError(`cannot extract ${JSON.stringify(name)}: its parent ${show(rel)} is not a directory`, {}, EXIT.refused);
    }
    this.knownDirs.add(rel);
  }

  /**
   * Clears the place for a new non-directory entry: unlinks a file, link or
   * node, removes an empty directory. A non-empty directory is an error, as
   * in the kernel's clean_path().
   */
  clear(rel: BytePath, name: string): void {
    const p = this.abs(rel);
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (!st) return;
    if (st.isDirectory()) {
      try {
        rmdirSync(p);
      } catch {
        throw new RdError(`cannot replace non-empty directory ${show(rel)} with ${JSON.stringify(name)}`, {}, EXIT.refused);
      }
      this.forget(rel);
    } else unlinkSync(p);
  }

  /** Prepares `rel` as a directory: keeps a real one, replaces anything else. Returns true if it was created. */
  makeDir(rel: BytePath, name: string): boolean {
    if (rel === '') return false;
    this.ensureParents(rel, name);
    const p = this.abs(rel);
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (st?.isDirectory()) {
      this.knownDirs.add(rel);
      return false;
    }
    if (st) unlinkSync(p);
    mkdirSync(p, 0o700);
    this.knownDirs.add(rel);
    return true;
  }

  private forget(rel: BytePath): void {
    for (const d of this.knownDirs) if (d === rel || d.startsWith(rel + '/')) this.knownDirs.delete(d);
  }
}

/** Flags for creating a new regular file that can never follow a planted link. */
export const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

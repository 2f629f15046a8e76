import { chmodSync, lchownSync, lstatSync, readdirSync, renameSync, rmdirSync, statSync, unlinkSync, utimesSync, type Stats } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { makeDirs } from './make-dirs.js';
import { joinBytes } from '../cpio/name-bytes.js';
import { RdError, EXIT } from '../errors.js';

/**
 * Moving a staged tree into place, and removing one, at any depth. Names go
 * up to 4,095 bytes (the kernel's limit), so DIR plus a name can pass
 * PATH_MAX, and Node has no renameat() or unlinkat(). Both walks therefore
 * run from inside the directory they work on (chdir, one real directory at a
 * time, checked by inode after entering), and every system call names at most
 * three components. The working directory is restored before returning;
 * nothing asynchronous runs in between.
 */

/**
 * Moves the entries of `from` into `to`. Directories merge into existing
 * real directories; a file, link or node at the destination (a planted
 * symlink included) is replaced rather than followed; a non-empty directory
 * is never deleted to make room (exit 4). A directory already there takes
 * the mode, owner and mtime of the staged one only if it is in
 * `archiveDirs` (byte paths under `from`; '' for the "." entry): one made
 * only to hold something keeps what it had, as cpio and the kernel leave it.
 */
export function moveInto(from: string, to: string, archiveDirs: ReadonlySet<string>): void {
  makeDirs(to);
  // The staged directory is carried inside the directory it merges into, level by level.
  const carry = Buffer.from(basename(from));
  const meta = lstatSync(from);
  if (resolve(dirname(from)) !== resolve(to)) renameSync(from, joinBytes(to, carry));
  fromInside(to, () => mergeHere({ carry, archiveDirs }, meta, to, ''));
}

/** Removes `dir` and everything in it, without following a link. */
export function removeTree(dir: string): void {
  const st = lstatSync(dir, { throwIfNoEntry: false });
  if (!st) return;
  if (!st.isDirectory()) return unlinkSync(dir);
  fromInside(dirname(dir), () => {
    const name = Buffer.from(basename(dir));
    inside(name, st, emptyHere);
    rmdirSync(name);
  });
}

function fromInside(dir: string, fn: () => void): void {
  const back = process.cwd();
  process.chdir(dir);
  try {
    fn();
  } finally {
    process.chdir(back);
  }
}

interface Merge {
  /** The name the staged directory has while it is carried. */
  carry: Buffer;
  archiveDirs: ReadonlySet<string>;
}

/**
 * The working directory is a destination directory; `carry`, inside it,
 * holds what goes into it. `meta` is the staged directory's lstat from before
 * anything moved (moving changes its mtime). `at` names the working
 * directory in messages, `rel` is its byte path in the staged tree.
 */
function mergeHere(m: Merge, meta: Stats, at: string, rel: string): void {
  const { carry } = m;
  for (const name of readdirSync(carry, { encoding: 'buffer' })) {
    const src = joinBytes(carry, name);
    const s = lstatSync(src);
    const d = lstatSync(name, { throwIfNoEntry: false });
    if (d?.isDirectory() && s.isDirectory()) {
      // Entered first, then filled from inside: a directory swapped for a link meanwhile is never written through.
      inside(name, d, () => {
        renameSync(Buffer.concat([UP, src]), carry);
        mergeHere(m, s, `${at}/${name.toString()}`, rel ? `${rel}/${name.toString('latin1')}` : name.toString('latin1'));
      });
      continue;
    }
    if (d?.isDirectory()) {
      try {
        rmdirSync(name);
      } catch {
        throw new RdError(`cannot replace non-empty directory ${JSON.stringify(`${at}/${name.toString()}`)} with an entry of the image that is not a directory`, {}, EXIT.refused);
      }
    } else if (d) unlinkSync(name);
    renameSync(src, name);
  }
  rmdirSync(carry);
  if (!m.archiveDirs.has(rel)) return;
  lchownSync('.', meta.uid, meta.gid);
  chmodSync('.', meta.mode & 0o7777);
  utimesSync('.', meta.atime, meta.mtime);
}

/** The working directory is emptied. */
function emptyHere(): void {
  for (const name of readdirSync('.', { encoding: 'buffer' })) {
    const st = lstatSync(name);
    if (!st.isDirectory()) {
      unlinkSync(name);
      continue;
    }
    inside(name, st, emptyHere);
    rmdirSync(name);
  }
}

const UP = Buffer.from('../');
const AWAY = `.rdrescue-cd-${process.pid}`;

/** Runs `fn` with the real directory `name` (lstat `st`), a child of the working directory, as the working directory. */
function inside(name: Buffer, st: Stats, fn: () => void): void {
  // process.chdir() takes text: a name that is not UTF-8 is entered under a temporary one.
  const text = name.toString('utf8');
  const renamed = !Buffer.from(text).equals(name);
  if (renamed) {
    if (lstatSync(AWAY, { throwIfNoEntry: false })) throw new RdError(`cannot enter directory ${JSON.stringify(text)}: ${AWAY} is in the way`, {}, EXIT.failure);
    renameSync(name, AWAY);
  }
  const parent = statSync('.');
  process.chdir(renamed ? AWAY : text);
  const here = statSync('.');
  // Swapped for a link after the lstat: the caller restores the working directory.
  if (here.ino !== st.ino || here.dev !== st.dev) throw new RdError(`directory ${JSON.stringify(text)} was replaced while extracting into it`, {}, EXIT.refused);
  try {
    fn();
  } finally {
    process.chdir('..');
    const back = statSync('.');
    if (back.ino !== parent.ino || back.dev !== parent.dev) throw new RdError(`directory ${JSON.stringify(text)} was moved while extracting into it`, {}, EXIT.refused);
    if (renamed) renameSync(AWAY, name);
  }
}

import { closeSync, constants, fchmodSync, fchownSync, fsyncSync, lstatSync, openSync, renameSync, rmSync, writeSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { RdError } from '../errors.js';
import { pausePoint } from './test-pause.js';

/**
 * Replaces a file so that a crash at any instant leaves either the old or
 * the new content under its name, the way shadow-utils does it: the backup
 * first, then the new content in `NAME+` next to the old file (same
 * filesystem, so rename is atomic), fsync, rename, fsync the directory.
 * Owner, group and mode are copied from the file being replaced.
 *
 * The steps are named so crash tests can pause at each (see test-pause.ts):
 * backup-written, backup-renamed, temp-written, temp-synced, renamed, dir-synced.
 */
export interface ReplaceOptions {
  /** Path of a backup copy of the current content, written (atomically) before anything else. */
  backup?: string;
  /** Mode for a file that does not exist yet (default 0644). */
  createMode?: number;
  /** Mode, owner and group for the new content (undo putting back the old ones); default: the replaced file's. */
  meta?: { mode: number; uid: number; gid: number };
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Writes `data` to a fresh `tmp` with the given ownership, fsyncs it, and renames it onto `dest`. */
function writeAndRename(tmp: string, dest: string, data: Buffer, mode: number, uid: number, gid: number, step: string): void {
  rmSync(tmp, { force: true }); // a leftover from an earlier crash; we hold the lock
  // 0600 until the content is complete, so a half-written secret is never world-readable
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    fchownSync(fd, uid, gid);
    fchmodSync(fd, mode & 0o7777);
    pausePoint(`${step}-written`);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  if (step === 'temp') pausePoint('temp-synced');
  renameSync(tmp, dest);
}

/**
 * Atomically replaces (or creates) `path` with `data`. `current` is the
 * content the caller planned against; the backup gets exactly those bytes.
 */
export function atomicReplace(path: string, data: Buffer, current: Buffer | null, opts: ReplaceOptions = {}): void {
  const st = statOrUndefined(path);
  if (st && !st.isFile()) throw new RdError(`is not a regular file (refusing to replace a ${st.isSymbolicLink() ? 'symbolic link' : 'special file'})`, { file: path });
  const mode = st ? st.mode : (opts.createMode ?? 0o644);
  const uid = st ? st.uid : 0;
  const gid = st ? st.gid : 0;
  const dir = dirname(path);
  if (opts.backup && current) {
    writeAndRename(join(dirname(opts.backup), `.${basename(opts.backup)}.rdrescue-tmp`), opts.backup, current, mode, uid, gid, 'backup');
    pausePoint('backup-renamed');
  }
  const next = opts.meta ?? { mode, uid, gid };
  writeAndRename(`${path}+`, path, data, next.mode, next.uid, next.gid, 'temp');
  pausePoint('renamed');
  fsyncDir(dir);
  pausePoint('dir-synced');
}

/** Removes `path` (if present) and makes the removal durable. */
export function durableRemove(path: string): void {
  rmSync(path, { force: true });
  fsyncDir(dirname(path));
}

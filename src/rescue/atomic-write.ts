import { closeSync, constants, fchmodSync, fchownSync, fsyncSync, lstatSync, openSync, renameSync, rmSync, writeSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { RdError } from '../errors.js';
import { fileMeta, type FileMeta } from './file-meta.js';
import { pausePoint } from './test-pause.js';
import { labelXattr } from './file-contexts.js';
import { SELINUX_XATTR, writeXattrs, type Xattrs } from './xattrs.js';

/**
 * Replaces a file so that a crash at any instant leaves either the old or
 * the new content under its name, the way shadow-utils does it: the backup
 * first, then the new content in `NAME+` next to the old file (same
 * filesystem, so rename is atomic), fsync, rename, fsync the directory.
 * Owner, group, mode and every extended attribute (label, ACL) are copied
 * from the file being replaced onto the new inode before it takes the name,
 * so no instant exists where the name holds an unlabelled or wider-open file.
 *
 * The steps are named so crash tests can pause at each (see test-pause.ts):
 * backup-written, backup-renamed, temp-written, temp-synced, renamed, dir-synced.
 */
export interface ReplaceOptions {
  /** Path of a backup copy of the current content, written (atomically) before anything else. */
  backup?: string;
  /** Mode for a file that does not exist yet (default 0644). */
  createMode?: number;
  /** SELinux context for the new content when it has none to keep (a new file: added to what it inherits from its directory). */
  label?: string;
  /** Mode, owner and extended attributes for the new content (undo putting back the old ones); default: the replaced file's. */
  meta?: FileMeta;
}

export interface ReplaceResult {
  /** Attributes the new file could not be given: only the label (a host policy refusing a label it does not know; the caller asks for a relabel) and security.evm (an HMAC the kernel lets nobody set, bound to the old inode anyway). */
  notKept: Array<{ name: string; error: string }>;
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

/** Writes `data` to a fresh `tmp` with the given metadata, fsyncs it, and renames it onto `dest`. */
function writeAndRename(tmp: string, dest: string, data: Buffer, meta: FileMeta, exact: boolean, step: string): ReplaceResult {
  rmSync(tmp, { force: true }); // a leftover from an earlier crash; we hold the lock
  // 0600 until the content is complete, so a half-written secret is never world-readable
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  let notKept: ReplaceResult['notKept'] = [];
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    fchownSync(fd, meta.uid, meta.gid);
    fchmodSync(fd, meta.mode & 0o7777);
    // after chown (which clears security.capability) and chmod; the ACL's mask then sets the group bits as they were
    if (meta.xattrs && (exact || Object.keys(meta.xattrs).length)) notKept = keepXattrs(tmp, meta.xattrs, exact);
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
  return { notKept };
}

/** Sets the attributes; a label the host refuses is reported, anything else lost stops the replacement. */
function keepXattrs(tmp: string, xattrs: Xattrs, exact: boolean): ReplaceResult['notKept'] {
  const failed = writeXattrs(tmp, xattrs, exact);
  const fatal = failed.find((f) => f.name !== SELINUX_XATTR && f.name !== 'security.evm');
  if (fatal) throw new RdError(`cannot give the new content the old file's ${fatal.name || 'extended attributes'} (${fatal.error}); nothing was changed`, { file: tmp.replace(/\+$/, '') });
  return failed;
}

/**
 * Atomically replaces (or creates) `path` with `data`. `current` is the
 * content the caller planned against; the backup gets exactly those bytes.
 */
export function atomicReplace(path: string, data: Buffer, current: Buffer | null, opts: ReplaceOptions = {}): ReplaceResult {
  const st = statOrUndefined(path);
  if (st && !st.isFile()) throw new RdError(`is not a regular file (refusing to replace a ${st.isSymbolicLink() ? 'symbolic link' : 'special file'})`, { file: path });
  const found: FileMeta = st ? fileMeta(path) : { mode: opts.createMode ?? 0o644, uid: 0, gid: 0, xattrs: {} };
  const dir = dirname(path);
  if (opts.backup && current) {
    writeAndRename(join(dirname(opts.backup), `.${basename(opts.backup)}.rdrescue-tmp`), opts.backup, current, found, true, 'backup');
    pausePoint('backup-renamed');
  }
  // journal entries older than the xattrs field restore mode and owner only: the attributes stay as found
  const next = opts.meta ? { ...opts.meta, xattrs: opts.meta.xattrs ?? found.xattrs } : found;
  if (opts.label && next.xattrs && !next.xattrs[SELINUX_XATTR]) next.xattrs = { ...next.xattrs, [SELINUX_XATTR]: labelXattr(opts.label) };
  const r = writeAndRename(`${path}+`, path, data, next, st !== undefined || opts.meta?.xattrs !== undefined, 'temp');
  pausePoint('renamed');
  fsyncDir(dir);
  pausePoint('dir-synced');
  return r;
}

/** Removes `path` (if present) and makes the removal durable. */
export function durableRemove(path: string): void {
  rmSync(path, { force: true });
  fsyncDir(dirname(path));
}

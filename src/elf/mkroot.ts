import { closeSync, constants, copyFileSync, fchmodSync, fchownSync, lstatSync, mkdirSync, openSync, readlinkSync, realpathSync, renameSync, rmSync, symlinkSync, chmodSync, writeFileSync, type Stats } from 'node:fs';
import { posix, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { RdError, EXIT } from '../errors.js';
import { resolveClosure, type Closure } from './closure.js';
import { closureTree, checkDest, usrMergeLinks, loaderCache, type ClosureTreeEntry } from './tree.js';

export interface MkrootOptions {
  /** Take programs and libraries from this root instead of the host's. */
  root?: string;
}

export interface MkrootResult {
  dir: string;
  closure: Closure;
  entries: ClosureTreeEntry[];
}

/** Splits "PROGRAM:DEST" (DEST optional), the form `add --bin` and `mkroot` accept. */
export function parseProgramSpec(spec: string): { program: string; dest?: string } {
  const i = spec.indexOf(':');
  if (i < 0) return { program: spec };
  const program = spec.slice(0, i);
  const dest = spec.slice(i + 1);
  if (!program || !dest) throw new RdError(`bad program spec ${JSON.stringify(spec)}: expected PROGRAM or PROGRAM:DEST`, {}, EXIT.usage);
  return { program, dest: checkDest(dest) };
}

/**
 * The seed notes' chroot exercise done right: DIR gets the programs at their
 * paths, their whole library closure (with the symlinked names), and the
 * source root's usr-merge links, so `chroot DIR /bin/bash` finds both bash
 * and its loader.
 */
export function mkroot(dir: string, specs: string[], opts: MkrootOptions = {}): MkrootResult {
  const parsed = specs.map(parseProgramSpec);
  const closure = resolveClosure(parsed.map((p) => p.program), { root: opts.root });
  const programDests = new Map<string, string>();
  for (const p of parsed) {
    const found = closure.programs.find((d) => d.request === p.program);
    if (p.dest && found) programDests.set(found.path, p.dest);
  }
  const entries = closureTree(closure, { links: usrMergeLinks(closure.root), programDests });
  const cache = loaderCache(closure);
  if (cache) entries.push({ dest: '/etc', type: 'dir', perm: 0o755 }, cache);
  mkdirSync(dir, { recursive: true });
  const real = realpathSync(dir);
  if (real === '/' || real === closure.root) throw new RdError(`refusing to build a root in ${real}: it is the source root itself`, { file: dir }, EXIT.refused);
  writeClosureTree(real, entries);
  return { dir: real, closure, entries };
}

/**
 * Creates `entries` under `dir` without ever following a symlink that was
 * already there: every parent component is checked with lstat (a planted
 * DIR/usr -> /tmp/outside is refused, not written through), files are
 * written to a fresh O_EXCL name and renamed into place (rename replaces a
 * final-component symlink instead of following it), an existing symlink is
 * only accepted when it is exactly the one we would create.
 */
export function writeClosureTree(dir: string, entries: ClosureTreeEntry[]): void {
  const made = new Set<string>();
  const host = (dest: string) => join(dir, dest);
  const refuse = (path: string, st: Stats, dest: string): never => {
    if (st.isSymbolicLink()) {
      throw new RdError(`${path} is a symlink (to ${readlinkSync(host(path))}) that was already there; refusing to write ${dest} through it`, { file: host(path) }, EXIT.refused);
    }
    throw new RdError(`${path} exists and is not a directory; cannot create ${dest}`, { file: host(path) }, EXIT.refused);
  };
  const ensureParents = (dest: string) => {
    let cur = '/';
    for (const c of posix.dirname(dest).split('/').filter(Boolean)) {
      cur = posix.join(cur, c);
      if (made.has(cur)) continue;
      const st = lstatSync(host(cur), { throwIfNoEntry: false });
      if (!st) mkdirSync(host(cur), 0o755);
      else if (!st.isDirectory()) refuse(cur, st, dest);
      made.add(cur);
    }
  };
  for (const e of entries) {
    const dest = checkDest(e.dest);
    if (dest === '/') continue;
    ensureParents(dest);
    const p = host(dest);
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (e.type === 'dir') {
      if (!st) mkdirSync(p);
      else if (!st.isDirectory()) refuse(dest, st, dest);
      chmodSync(p, e.perm); // p is a directory we checked with lstat, not a link
      made.add(dest);
    } else if (e.type === 'symlink') {
      if (st?.isSymbolicLink() && readlinkSync(p) === e.target) continue;
      if (st) throw new RdError(`${dest} already exists and is not the symlink to ${e.target} it should be`, { file: p }, EXIT.refused);
      symlinkSync(e.target!, p);
    } else {
      if (st?.isDirectory() || (st && !st.isFile() && !st.isSymbolicLink())) throw new RdError(`${dest} exists and is not a regular file`, { file: p }, EXIT.refused);
      copyInto(e, p);
    }
  }
}

function copyInto(e: ClosureTreeEntry, dest: string): void {
  const tmp = join(posix.dirname(dest), `.${posix.basename(dest)}.rdrescue-${randomBytes(4).toString('hex')}`);
  // O_CREAT|O_EXCL (COPYFILE_EXCL too) fails on any existing name, symlinks included, so the temp name is ours.
  if (e.data) {
    const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      writeFileSync(fd, e.data);
    } finally {
      closeSync(fd);
    }
  } else copyFileSync(e.hostPath!, tmp, constants.COPYFILE_EXCL);
  try {
    const fd = openSync(tmp, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      if (e.hostPath && process.getuid?.() === 0) {
        const s = lstatSync(e.hostPath);
        fchownSync(fd, s.uid, s.gid);
      }
      // chown clears setuid/setgid, so the mode goes on last.
      fchmodSync(fd, e.perm);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, dest);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

import { lstatSync } from 'node:fs';
import { posix } from 'node:path';
import { RdError, EXIT } from '../errors.js';
import { RootFs } from './rootfs.js';
import { acceptedCacheFlags, formatLdCache } from './ldcache.js';
import type { Closure } from './closure.js';

/** One thing to create in a target tree (a directory, an image segment), independent of how it is written. */
export interface ClosureTreeEntry {
  /** Absolute path in the target, normalised, never containing `..`. */
  dest: string;
  type: 'file' | 'symlink' | 'dir';
  /** For files: where to read the bytes on the host. */
  hostPath?: string;
  /** For generated files (a loader cache): the bytes themselves, instead of hostPath. */
  data?: Buffer;
  /** For symlinks: the link text. */
  target?: string;
  /** Permission bits including setuid/setgid/sticky (0o777 for symlinks). */
  perm: number;
}

export interface ClosureTreeOptions {
  /** Put everything under this directory of the target (e.g. "/sysroot"); absolute symlink targets are then made relative so they stay inside it. */
  prefix?: string;
  /** Install a program somewhere else than its own path: program path (ClosureFile.path) -> destination. Libraries keep their paths. */
  programDests?: Map<string, string>;
  /** Extra symlinks to recreate, such as usrMergeLinks() of the source root. */
  links?: Array<{ path: string; target: string }>;
}

/**
 * Normalises a destination path and refuses one that climbs above the
 * target root with `..` (rather than silently clamping it), or holds a NUL.
 */
export function checkDest(dest: string, what = 'DEST'): string {
  if (dest.includes('\0')) throw new RdError(`${what} ${JSON.stringify(dest)} contains a NUL byte`, {}, EXIT.refused);
  let depth = 0;
  for (const c of dest.split('/')) {
    if (c === '..') depth--;
    else if (c && c !== '.') depth++;
    if (depth < 0) throw new RdError(`${what} ${JSON.stringify(dest)} leaves the destination root (too many ..)`, {}, EXIT.refused);
  }
  return posix.normalize('/' + dest);
}

/** The top-level usr-merge links of a root (/bin -> usr/bin, /lib -> usr/lib, /lib64, /sbin), as that root has them. */
export function usrMergeLinks(root = '/'): Array<{ path: string; target: string }> {
  const fs = new RootFs(root);
  const out: Array<{ path: string; target: string }> = [];
  for (const name of ['bin', 'sbin', 'lib', 'lib64']) {
    const r = fs.resolve(`/${name}`);
    // Only a link into the same root's /usr counts: other top-level links are site-specific.
    if (r?.stat.isDirectory() && r.symlinks.length && r.path.startsWith('/usr/')) out.push({ path: `/${name}`, target: r.symlinks[0].target });
  }
  return out;
}

/**
 * Turns a closure into what must exist in a target tree so the programs run
 * there: each real file once at its real path with its mode, every symlink
 * met on the way (libfoo.so.1 -> libfoo.so.1.2.3, /lib -> usr/lib) as a
 * symlink, and every parent directory (with the source directory's mode).
 * Sorted so a parent always comes before its children; the cpio writer and
 * mkroot both consume it.
 */
export function closureTree(closure: Closure, opts: ClosureTreeOptions = {}): ClosureTreeEntry[] {
  const fs = new RootFs(closure.root);
  const prefix = opts.prefix ? checkDest(opts.prefix, 'prefix') : '/';
  const entries = new Map<string, ClosureTreeEntry>();
  const put = (e: ClosureTreeEntry) => {
    const prev = entries.get(e.dest);
    if (prev && (prev.type !== e.type || prev.target !== e.target || prev.hostPath !== e.hostPath)) {
      throw new RdError(`two different things would be installed at ${e.dest} (${describe(prev)} and ${describe(e)})`, {}, EXIT.refused);
    }
    entries.set(e.dest, e);
  };
  const inTarget = (p: string) => (prefix === '/' ? p : posix.join(prefix, p));
  const dirs = new Set<string>();
  const parents = (p: string) => {
    for (let d = posix.dirname(p); d !== '/'; d = posix.dirname(d)) dirs.add(d);
  };
  const link = (path: string, target: string) => {
    // Inside a prefix an absolute target would point at the image's root, not the prefix: make it relative to the link.
    const t = prefix !== '/' && target.startsWith('/') ? posix.relative(posix.dirname(path), target) || '.' : target;
    put({ dest: inTarget(path), type: 'symlink', target: t, perm: 0o777 });
    parents(path);
  };
  for (const l of opts.links ?? []) {
    link(checkDest(l.path, 'link'), l.target);
    // The directory a usr-merge link points to must exist too, or the link dangles (/sbin -> usr/sbin with no program in it).
    const r = fs.resolve(l.path);
    if (r?.stat.isDirectory()) {
      dirs.add(r.path);
      parents(r.path);
    }
  }
  for (const f of closure.files) {
    const custom = opts.programDests?.get(f.path);
    if (custom !== undefined && f.kind === 'program') {
      const dest = canonicalDest(fs, checkDest(custom));
      for (const h of dest.symlinks) link(h.path, h.target);
      put({ dest: inTarget(dest.path), type: 'file', hostPath: f.hostPath, perm: f.perm });
      parents(dest.path);
      continue;
    }
    for (const h of f.symlinks) link(h.path, h.target);
    put({ dest: inTarget(f.realPath), type: 'file', hostPath: f.hostPath, perm: f.perm });
    parents(f.realPath);
  }
  for (const d of dirs) {
    const dest = inTarget(d);
    const st = lstatSync(fs.hostPath(d), { throwIfNoEntry: false });
    put({ dest, type: 'dir', perm: st?.isDirectory() ? st.mode & 0o7777 : 0o755 });
  }
  if (prefix !== '/') for (let d = prefix; d !== '/'; d = posix.dirname(d)) if (!entries.has(d)) put({ dest: d, type: 'dir', perm: 0o755 });
  return [...entries.values()].sort((a, b) => comparePaths(a.dest, b.dest));
}

/**
 * A user-chosen destination such as /bin/foo goes where the source root's
 * symlinks lead (/usr/bin/foo when /bin -> usr/bin), so it never collides
 * with the /bin symlink the tree also carries.
 */
function canonicalDest(fs: RootFs, dest: string): { path: string; symlinks: Array<{ path: string; target: string }> } {
  const parent = fs.resolve(posix.dirname(dest));
  if (!parent?.stat.isDirectory()) return { path: dest, symlinks: [] };
  return { path: posix.join(parent.path, posix.basename(dest)), symlinks: parent.symlinks };
}

/** Component-wise order, so "/a/b" sorts right after "/a" and before "/a-b". */
function comparePaths(a: string, b: string): number {
  const x = a.split('/');
  const y = b.split('/');
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
  }
  return x.length - y.length;
}

function describe(e: ClosureTreeEntry): string {
  return e.type === 'symlink' ? `a symlink to ${e.target}` : e.type === 'file' ? `a copy of ${e.hostPath}` : 'a directory';
}

/**
 * An /etc/ld.so.cache for the copied tree, when it needs one: ld.so reads
 * only its cache (never ld.so.conf), so a library the source root found
 * through its cache in a directory outside the loader's defaults (e.g.
 * /usr/local/lib, /opt/x/lib listed in ld.so.conf.d) would not be found in
 * the copy without it. Holds exactly the closure's cache-found libraries.
 * Undefined when the default directories and RPATH/RUNPATH suffice.
 */
export function loaderCache(closure: Closure): ClosureTreeEntry | undefined {
  const byPath = new Map(closure.files.map((f) => [f.path, f]));
  const entries = new Map<string, { key: string; value: string; flags: number }>();
  let needed = false;
  for (const p of closure.programs) {
    for (const l of p.libraries) {
      const f = l.path ? byPath.get(l.path) : undefined;
      if (!f?.elf || (l.via !== 'cache' && l.via !== 'ld.so.conf')) continue;
      if (!l.defaultDir) needed = true;
      const flags = acceptedCacheFlags(f.elf)[0];
      entries.set(`${l.name}\0${flags}`, { key: l.name, value: l.path!, flags });
    }
  }
  return needed ? { dest: '/etc/ld.so.cache', type: 'file', data: formatLdCache([...entries.values()]), perm: 0o644 } : undefined;
}

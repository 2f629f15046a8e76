import { lstatSync, readlinkSync, realpathSync, type Stats } from 'node:fs';
import { join, posix } from 'node:path';
import { RdError, EXIT } from '../errors.js';

/** One symlink met while resolving a path: where it is (parents already resolved) and its raw target. */
export interface SymlinkHop {
  path: string;
  target: string;
}

export interface ResolvedPath {
  /** Absolute path inside the root with every symlink resolved. */
  path: string;
  /** The file on the host (root joined with `path`). */
  hostPath: string;
  /** Symlinks followed on the way, in order, so a copy of the tree can recreate them. */
  symlinks: SymlinkHop[];
  stat: Stats;
}

/** Linux's limit on symlinks followed in one lookup (MAXSYMLINKS). */
const MAX_HOPS = 40;

/**
 * A directory tree seen as a root filesystem, as chroot would see it: an
 * absolute symlink target means "from the root", `..` stops at the root, so
 * no lookup ever leaves it (usr-merge links like /lib -> usr/lib and distro
 * links like /lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/... work
 * against the tree, not the host).
 */
export class RootFs {
  /** The root directory on the host, symlinks resolved. */
  readonly dir: string;
  constructor(root: string = '/') {
    try {
      this.dir = realpathSync(root);
    } catch (e) {
      throw new RdError(`cannot use as root: ${(e as Error).message}`, { file: root }, EXIT.usage);
    }
    if (!lstatSync(this.dir).isDirectory()) throw new RdError('root is not a directory', { file: root }, EXIT.usage);
  }

  hostPath(inner: string): string {
    return this.dir === '/' ? inner : join(this.dir, inner);
  }

  /** Follows `path` inside the root; undefined when it (or a parent) does not exist or a parent is not a directory. */
  resolve(path: string): ResolvedPath | undefined {
    const pending = splitPath(path);
    const symlinks: SymlinkHop[] = [];
    let cur = '/';
    let st = lstatSync(this.dir);
    while (pending.length) {
      const c = pending.shift()!;
      if (c === '.') continue;
      if (c === '..') {
        cur = posix.dirname(cur);
        st = lstatSync(this.hostPath(cur));
        continue;
      }
      if (!st.isDirectory()) return undefined;
      const next = posix.join(cur, c);
      const s = lstatSync(this.hostPath(next), { throwIfNoEntry: false });
      if (!s) return undefined;
      if (s.isSymbolicLink()) {
        if (symlinks.length >= MAX_HOPS) throw new RdError(`too many levels of symbolic links resolving ${path}`, { file: this.hostPath(next) }, EXIT.badInput);
        const target = readlinkSync(this.hostPath(next));
        symlinks.push({ path: next, target });
        if (target.startsWith('/')) {
          cur = '/';
          st = lstatSync(this.dir);
        }
        pending.unshift(...splitPath(target));
        continue;
      }
      cur = next;
      st = s;
    }
    return { path: cur, hostPath: this.hostPath(cur), symlinks, stat: st };
  }
}

function splitPath(p: string): string[] {
  return p.split('/').filter((c) => c !== '');
}

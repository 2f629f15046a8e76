import { closeSync, lstatSync, openSync, readlinkSync, readSync, realpathSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import { RdError, EXIT } from '../errors.js';
import { isElfHead, readElf } from '../elf/elf.js';
import { RootFs } from '../elf/rootfs.js';

/** PATH inside the sandbox: the usual one, so `-- ls` finds /bin/ls of the tree. */
export const SANDBOX_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Exit status for "command not found", as shells and chroot use it. */
export const EXIT_NOT_FOUND = 127;

export interface BindRequest {
  src: string;
  dst: string;
}

export interface PlannedBind {
  kind: 'dir' | 'file';
  /** Host path, symlinks resolved. */
  src: string;
  /** Path inside the tree, every symlink resolved inside the tree. */
  dst: string;
}

/** Mount points inside the tree, resolved as the sandbox will see them. */
export interface MountPoints {
  proc: string;
  sys: string;
  dev: string;
  /** Set when the tree has the directory and gets a private tmpfs there (read-only mode). */
  tmp?: string;
  run?: string;
}

/** Parses `SRC:DST` (the first colon splits, so DST may not contain one but SRC may not either). */
export function parseBind(spec: string): BindRequest {
  const i = spec.indexOf(':');
  if (i <= 0 || i === spec.length - 1) throw new RdError(`--bind needs SRC:DST, got ${JSON.stringify(spec)}`, {}, EXIT.usage);
  return { src: spec.slice(0, i), dst: spec.slice(i + 1) };
}

/**
 * Resolves a bind's destination inside the tree. `..` is refused outright
 * rather than clamped, because a user who writes it means a place outside
 * the tree; symlinks inside the tree are followed the way the sandbox will
 * follow them (absolute targets from the tree's root), so a link such as
 * /mnt -> /etc in an image can never make the mount land on the host.
 */
export function planBind(root: RootFs, req: BindRequest): PlannedBind {
  if (!posix.isAbsolute(req.dst)) throw new RdError(`--bind destination must be an absolute path inside the tree, got ${JSON.stringify(req.dst)}`, {}, EXIT.usage);
  if (req.dst.split('/').includes('..')) throw new RdError(`--bind destination may not contain "..": ${req.dst}`, {}, EXIT.refused);
  let src: string;
  try {
    src = realpathSync(req.src);
  } catch (e) {
    throw new RdError(`--bind source: ${(e as Error).message}`, { file: req.src }, EXIT.usage);
  }
  const kind = statSync(src).isDirectory() ? 'dir' : 'file';
  const dst = resolveMountPoint(root, req.dst, kind);
  if (dst === '/') throw new RdError('--bind cannot replace the root of the tree', { file: root.dir }, EXIT.refused);
  return { kind, src, dst };
}

/** Linux's limit on symlinks followed in one lookup (MAXSYMLINKS). */
const MAX_HOPS = 40;

/**
 * Where a mount point ends up inside the tree, every symlink followed the way
 * the sandbox will follow it (an absolute target starts again at the tree's
 * root, `..` stops there). An existing path must have the right type. From
 * the first missing component on, the stage creates plain directories, so
 * the result holds no symlink that the host could follow out of the tree; a
 * `..` after a missing component (only possible through a symlink target) is
 * refused, as its meaning would depend on directories that do not exist yet.
 */
export function resolveMountPoint(root: RootFs, inner: string, kind: 'dir' | 'file'): string {
  const pending = inner.split('/').filter((c) => c !== '' && c !== '.');
  let cur = '/';
  let hops = 0;
  while (pending.length) {
    const c = pending.shift()!;
    if (c === '.') continue;
    if (c === '..') {
      cur = posix.dirname(cur);
      continue;
    }
    const next = posix.join(cur, c);
    const st = lstatSync(root.hostPath(next), { throwIfNoEntry: false });
    if (!st) {
      const rest = pending.filter((x) => x !== '.');
      if (rest.includes('..')) throw new RdError(`cannot mount on ${inner}: ${next} is missing and the rest of the path climbs with ".."`, { file: root.dir }, EXIT.refused);
      return posix.join(next, ...rest);
    }
    if (st.isSymbolicLink()) {
      if (++hops > MAX_HOPS) throw new RdError(`too many levels of symbolic links resolving ${inner}`, { file: root.dir }, EXIT.badInput);
      const target = readlinkSync(root.hostPath(next));
      if (target.startsWith('/')) cur = '/';
      pending.unshift(...target.split('/').filter((x) => x !== ''));
      continue;
    }
    if (pending.length && !st.isDirectory()) throw new RdError(`cannot mount on ${inner}: ${next} is not a directory`, { file: root.dir }, EXIT.badInput);
    cur = next;
  }
  const isDir = lstatSync(root.hostPath(cur)).isDirectory();
  if ((kind === 'dir') !== isDir) throw new RdError(`cannot mount a ${kind === 'dir' ? 'directory' : 'file'} on ${inner}: it is ${isDir ? 'a directory' : 'not a directory'}`, { file: root.dir }, EXIT.badInput);
  return cur;
}

export function planMountPoints(root: RootFs, readOnly: boolean): MountPoints {
  const pts: MountPoints = {
    proc: resolveMountPoint(root, '/proc', 'dir'),
    sys: resolveMountPoint(root, '/sys', 'dir'),
    dev: resolveMountPoint(root, '/dev', 'dir'),
  };
  if (readOnly) {
    // Programs expect to write /tmp and /run; on a read-only root they get private tmpfs, but only where the tree has them.
    for (const d of ['tmp', 'run'] as const) if (root.resolve(`/${d}`)?.stat.isDirectory()) pts[d] = resolveMountPoint(root, `/${d}`, 'dir');
  }
  return pts;
}

/**
 * Finds the command inside the tree the way execvp in the sandbox will, and
 * checks that the kernel can start it: an ELF program's interpreter and a
 * script's `#!` interpreter must be in the tree too (the ldd lesson: a
 * missing loader reads as "No such file or directory" for a file that is there).
 */
export function findCommand(root: RootFs, name: string, shownAs: string = root.dir): string {
  const notFound = (why: string) => new RdError(why, { file: shownAs }, EXIT_NOT_FOUND);
  const candidates = name.includes('/') ? [posix.resolve('/', name)] : SANDBOX_PATH.split(':').map((d) => posix.join(d, name));
  for (const c of candidates) {
    const r = root.resolve(c);
    if (!r || !r.stat.isFile()) continue;
    if ((r.stat.mode & 0o111) === 0) {
      if (name.includes('/')) throw notFound(`${c} inside the tree is not executable`);
      continue; // execvp goes on searching PATH
    }
    const interp = interpreterOf(r.hostPath, c);
    if (interp && !root.resolve(interp)?.stat.isFile()) throw notFound(`cannot run ${c}: its interpreter ${interp} is missing inside the tree`);
    return c;
  }
  if (name === '/bin/sh') throw notFound('the tree has no /bin/sh; give a command after --');
  throw notFound(name.includes('/') ? `no ${name} inside the tree` : `command not found inside the tree: ${name}`);
}

function interpreterOf(hostPath: string, name: string): string | undefined {
  const head = Buffer.alloc(256);
  const fd = openSync(hostPath, 'r');
  let n: number;
  try {
    n = readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  if (isElfHead(head.subarray(0, n))) {
    try {
      return readElf(hostPath, name).interpreter;
    } catch {
      return undefined; // let the kernel give its own verdict on a damaged ELF file
    }
  }
  if (head[0] === 0x23 && head[1] === 0x21) {
    const line = head.subarray(2, n).toString('latin1').split('\n')[0].trim();
    const prog = line.split(/[ \t]/)[0];
    return prog.startsWith('/') ? prog : undefined;
  }
  return undefined;
}

/** True when `p` is `dir` or lies below it. */
export function isWithin(p: string, dir: string): boolean {
  return p === dir || dir === '/' || p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

/**
 * The host directory the stage lays its tmpfs over (in the new mount
 * namespace only). It must not hide anything the stage still needs: the tree,
 * the bind sources, the terminal, or the host programs it runs.
 */
export function pickScratch(needed: string[]): string {
  for (const c of ['/srv', '/mnt', '/media', '/opt', '/home', '/var/tmp', '/tmp', '/root']) {
    const st = lstatSync(c, { throwIfNoEntry: false });
    if (!st?.isDirectory()) continue;
    if (needed.some((p) => isWithin(p, c))) continue;
    return c;
  }
  throw new RdError(`no spare host directory to build the sandbox on (tried /srv, /mnt, /media, /opt, /home, /var/tmp, /tmp, /root)`);
}

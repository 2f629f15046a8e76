import { existsSync, lstatSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { RdError, EXIT } from '../errors.js';
import { launcherSetting } from '../exe/launcher-env.js';
import { detectEnvironment, type DetectOptions, type Environment } from './env.js';

/**
 * The target root is a directory we must treat like a chroot: an absolute
 * symlink inside it (etc/shadow -> /etc/shadow) means the target's own
 * /etc/shadow, never the rescue system's. Every path we touch in the target
 * goes through resolveInRoot.
 */
export interface Target {
  /** Real absolute path of the target root. */
  root: string;
  /** How it was found: 'option' for --root, else the environment kind. */
  source: string;
  env: Environment;
}

/** What walking a path inside a root met. */
export interface RootWalk {
  /** Components of the resolved path inside the root. */
  parts: string[];
  /** Links followed, as "LINK -> TARGET" in root terms. */
  links: string[];
  /** The first link whose `..` tried to climb above the root (clamped there, as chroot does). */
  escapedVia?: string;
  /** More than 40 links: the walk stopped (ELOOP). */
  loop: boolean;
}

const MAX_LINKS = 40;

/**
 * Walks `rel` inside `root` the way the kernel would after chroot(root):
 * absolute links restart at root, `..` stops at root. The last component is
 * followed too unless `followLast` is false. Callers decide what a loop or an
 * escape means for them.
 */
export function walkInRoot(root: string, rel: string, followLast = true): RootWalk {
  const pending = rel.split('/').filter((p) => p && p !== '.');
  let cur: string[] = [];
  const links: string[] = [];
  let escapedVia: string | undefined;
  while (pending.length) {
    const p = pending.shift()!;
    if (p === '..') {
      if (cur.length === 0 && links.length) escapedVia ??= links[links.length - 1];
      cur.pop();
      continue;
    }
    const host = join(root, ...cur, p);
    let st;
    try {
      st = lstatSync(host);
    } catch {
      // missing or not a directory on the way: nothing to follow, the caller meets it later
    }
    if (st?.isSymbolicLink() && (followLast || pending.length > 0)) {
      if (links.length >= MAX_LINKS) return { parts: cur, links, escapedVia, loop: true };
      const target = readlinkSync(host);
      links.push(`/${[...cur, p].join('/')} -> ${target}`);
      if (target.startsWith('/')) cur = [];
      pending.unshift(...target.split('/').filter((x) => x && x !== '.'));
      continue;
    }
    cur.push(p);
  }
  return { parts: cur, links, escapedVia, loop: false };
}

/** `rel` inside `root` as an absolute host path, resolved as after chroot(root) (see walkInRoot). */
export function resolveInRoot(root: string, rel: string, followLast = true): string {
  const w = walkInRoot(root, rel, followLast);
  if (w.loop) throw new RdError(`too many levels of symbolic links resolving /${rel} in the target`, { file: join(root, rel) });
  return join(root, ...w.parts);
}

export interface TargetOptions extends DetectOptions {
  /** --root: use this directory and skip detection. */
  root?: string;
}

/** Finds and validates the target root, refusing anything that is not a Linux root. */
export function resolveTarget(opts: TargetOptions = {}): Target {
  const env = detectEnvironment(opts);
  let root: string;
  let source: string;
  // RDRESCUE_ROOT: the root the thin launcher started this executable from, or one the user names instead of --root.
  const fromEnv = opts.environ ? opts.environ.RDRESCUE_ROOT || undefined : launcherSetting('RDRESCUE_ROOT');
  if (opts.root !== undefined || fromEnv !== undefined) {
    root = resolve(opts.root ?? fromEnv!);
    source = opts.root !== undefined ? 'option' : 'RDRESCUE_ROOT';
  } else {
    if (!env.targetRoot) throw new RdError(env.hint ?? 'no target root found; pass --root DIR', {}, EXIT.refused);
    if (!env.targetMounted) throw new RdError(`the target root ${env.targetRoot} is not mounted yet${env.hint ? `: ${env.hint}` : ''}`, {}, EXIT.refused);
    root = env.targetRoot;
    source = env.kind;
  }
  let st;
  try {
    st = statSync(root);
  } catch {
    throw new RdError('target root does not exist', { file: root }, EXIT.refused);
  }
  if (!st.isDirectory()) throw new RdError('target root is not a directory', { file: root }, EXIT.refused);
  root = realpathSync(root);
  if (env.inInitramfs && root === realpathSync(env.hostRoot)) {
    throw new RdError(`${root} is the initramfs itself, not the system to rescue; its etc/shadow is the initramfs's own. Mount the real root (${env.targetRoot ?? '/sysroot'}) and use that`, {}, EXIT.refused);
  }
  if (!existsSync(resolveInRoot(root, 'etc/passwd'))) {
    throw new RdError('is not a Linux root: it has no etc/passwd', { file: root }, EXIT.refused);
  }
  return { root, source, env };
}

/** `rel` inside the target, resolved like a chroot would. */
export function targetPath(t: Target | string, rel: string, followLast = true): string {
  return resolveInRoot(typeof t === 'string' ? t : t.root, rel, followLast);
}

/** A file in the target as bytes, or null when it does not exist (other errors are real errors). */
export function readTargetFile(root: string, rel: string): Buffer | null {
  try {
    return readFileSync(resolveInRoot(root, rel));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** A text file in the target, or undefined when it cannot be read (optional configuration). */
export function readTargetText(root: string, rel: string): string | undefined {
  try {
    return readFileSync(resolveInRoot(root, rel), 'utf8');
  } catch {
    return undefined;
  }
}

import { lstatSync, readlinkSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { RdError, EXIT } from '../errors.js';

/**
 * A path a runbook names inside the target, resolved the way the target's
 * own tools would see it after chroot (absolute links start again at the
 * target's root), but stricter than the rescue library's resolveInRoot,
 * which clamps `..` at the root: a runbook path containing `..`, or a link
 * whose target climbs above the root, is refused, because on the rescue
 * host it would lead out of the target.
 */
export interface ResolvedTargetPath {
  /** The path inside the target with every link resolved ("/etc/x"). */
  inner: string;
  /** Links followed, as "LINK -> TARGET" in target terms. */
  links: string[];
}

const MAX_LINKS = 40;

export function resolveWithinTarget(root: string, path: string, followLast = true): ResolvedTargetPath {
  if (!path.startsWith('/')) throw new RdError(`${JSON.stringify(path)} must be an absolute path inside the target`, {}, EXIT.badInput);
  if (path.split('/').includes('..')) throw new RdError(`${JSON.stringify(path)} contains "..": a runbook path may not climb out of where it points`, {}, EXIT.refused);
  const pending = path.split('/').filter((p) => p && p !== '.');
  let cur: string[] = [];
  const links: string[] = [];
  while (pending.length) {
    const p = pending.shift()!;
    if (p === '..') {
      if (cur.length === 0) throw new RdError(`${JSON.stringify(path)}: the link ${links[links.length - 1]} leads out of the target root`, {}, EXIT.refused);
      cur.pop();
      continue;
    }
    const host = join(root, ...cur, p);
    let isLink = false;
    try {
      isLink = lstatSync(host).isSymbolicLink();
    } catch {
      /* missing: created later, no link to follow */
    }
    if (isLink && (followLast || pending.length > 0)) {
      if (links.length >= MAX_LINKS) throw new RdError(`${JSON.stringify(path)}: too many levels of symbolic links`, {}, EXIT.badInput);
      const target = readlinkSync(host);
      links.push(`/${[...cur, p].join('/')} -> ${target}`);
      if (target.startsWith('/')) cur = [];
      pending.unshift(...target.split('/').filter((x) => x && x !== '.'));
      continue;
    }
    cur.push(p);
  }
  return { inner: `/${cur.join('/')}`, links };
}

/** lstat, or undefined when nothing is there. */
export function lstatIfAny(hostPath: string): Stats | undefined {
  return lstatSync(hostPath, { throwIfNoEntry: false });
}

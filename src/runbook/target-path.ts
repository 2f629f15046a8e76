import { RdError, EXIT } from '../errors.js';
import { walkInRoot } from '../rescue/target.js';

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

export function resolveWithinTarget(root: string, path: string, followLast = true): ResolvedTargetPath {
  if (!path.startsWith('/')) throw new RdError(`${JSON.stringify(path)} must be an absolute path inside the target`, {}, EXIT.badInput);
  if (path.split('/').includes('..')) throw new RdError(`${JSON.stringify(path)} contains "..": a runbook path may not climb out of where it points`, {}, EXIT.refused);
  const w = walkInRoot(root, path, followLast);
  if (w.escapedVia) throw new RdError(`${JSON.stringify(path)}: the link ${w.escapedVia} leads out of the target root`, {}, EXIT.refused);
  if (w.loop) throw new RdError(`${JSON.stringify(path)}: too many levels of symbolic links`, {}, EXIT.badInput);
  return { inner: `/${w.parts.join('/')}`, links: w.links };
}


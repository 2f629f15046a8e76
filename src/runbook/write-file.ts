import { lstatSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { RdError, EXIT } from '../errors.js';
import type { FileChange } from '../rescue/plan.js';
import { withLabels } from '../rescue/labels.js';
import { remountIfReadOnly } from '../rescue/relabel.js';
import { resolveOwner } from './accounts.js';
import { octal, type FilePlan, type MetaChange } from './file-plan.js';
import { resolveWithinTarget } from './target-path.js';

/** The runbook's `write` step: a whole file with content, mode and owner, the old one kept as PATH.rdrescue.bak. */
export interface WriteFileOptions {
  path: string;
  content: string;
  /** Octal mode ("0644"); default: the existing file's, else 0644. */
  mode?: string;
  /** "user", "user:group" or "uid:gid" in the target; default: the existing file's, else root. */
  owner?: string;
  /** Keep the previous content as PATH.rdrescue.bak (default true). */
  backup?: boolean;
}

export const WRITE_BACKUP_SUFFIX = '.rdrescue.bak';

export function planWriteFile(root: string, o: WriteFileOptions): FilePlan {
  const r = resolveWithinTarget(root, o.path);
  const host = join(root, r.inner);
  const st = lstatSync(host, { throwIfNoEntry: false });
  if (st && !st.isFile()) throw new RdError(`${o.path} is ${st.isDirectory() ? 'a directory' : 'not a regular file'} in the target; write replaces regular files only`, {}, EXIT.badInput);
  const parent = lstatSync(dirname(host), { throwIfNoEntry: false });
  if (!parent?.isDirectory()) throw new RdError(`the directory ${dirname(r.inner)} does not exist in the target; write does not create directories`, {}, EXIT.badInput);
  const before = st ? readFileSync(host) : null;
  const after = Buffer.from(o.content, 'utf8');
  const oldMode = st ? st.mode & 0o7777 : undefined;
  const mode = o.mode !== undefined ? parseInt(o.mode, 8) : (oldMode ?? 0o644);
  const owner = o.owner !== undefined ? resolveOwner(root, o.owner) : { uid: st?.uid ?? 0, gid: st?.gid ?? 0 };
  const contentChanges = before === null || !before.equals(after);
  const what: string[] = [];
  const beforeMeta: MetaChange[] = [];
  const afterMeta: MetaChange[] = [];
  const via = r.links.length ? ` (through ${r.links.join(', ')})` : '';
  if (st) {
    const ownerChanges = st.uid !== owner.uid || st.gid !== owner.gid;
    const modeChanges = oldMode !== mode;
    if (ownerChanges) what.push(`owner ${st.uid}:${st.gid} -> ${owner.uid}:${owner.gid}`);
    if (modeChanges) what.push(`mode ${octal(oldMode!)} -> ${octal(mode)}`);
    if (ownerChanges || modeChanges) {
      // old content under the new owner or new content under the old mode: either way only what both allow
      const interim = contentChanges ? oldMode! & mode : mode;
      beforeMeta.push({ path: r.inner, uid: owner.uid, gid: owner.gid, mode: interim, what: what.join(', ') });
      if (interim !== mode) afterMeta.push({ path: r.inner, mode, what: `mode ${octal(mode)}` });
    }
  } else if (owner.uid !== 0 || owner.gid !== 0) afterMeta.push({ path: r.inner, uid: owner.uid, gid: owner.gid, what: `owner ${owner.uid}:${owner.gid}` });
  const changes: FileChange[] = [];
  if (contentChanges) {
    const desc = before === null ? [`created${via}: ${after.length} bytes, mode ${octal(mode)}, owner ${owner.uid}:${owner.gid}`] : [`content replaced${via}: ${before.length} -> ${after.length} bytes`, ...what];
    changes.push({ path: r.inner, before, after, createMode: mode, backup: o.backup !== false && before !== null ? `${r.inner}${WRITE_BACKUP_SUFFIX}` : undefined, description: desc });
  }
  const satisfied = changes.length === 0 && beforeMeta.length === 0 && afterMeta.length === 0;
  return {
    plan: withLabels({
      action: 'write',
      root,
      subject: o.path,
      changes,
      remount: satisfied ? undefined : remountIfReadOnly(root),
      notes: satisfied && r.links.length ? [`${o.path} is reached${via}`] : [],
      satisfied,
    }),
    before: beforeMeta,
    after: afterMeta,
    satisfied,
  };
}

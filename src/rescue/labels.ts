import { lstatSync } from 'node:fs';
import { parseKeyValues, selinuxState, type SelinuxState } from './facts.js';
import { policyLabel } from './file-contexts.js';
import type { FileChange, Plan } from './plan.js';
import { readTargetFile, readTargetText, resolveInRoot } from './target.js';
import { readXattrs, SELINUX_XATTR, xattrsUnavailable, type Xattrs } from './xattrs.js';

/**
 * SELinux labels of the files a plan writes. A replaced file keeps its own
 * label (atomicReplace copies every attribute); a new one gets the label
 * the target's file_contexts gives its path; only a file left with neither
 * makes the plan ask for a full relabel at next boot, naming it. A relabel
 * costs minutes to hours and one more reboot, so it is the last resort.
 */
export const AUTORELABEL = '/.autorelabel';
/** openSUSE and SLES read it here (their root may be read-only at boot). */
export const SUSE_AUTORELABEL = '/etc/selinux/.autorelabel';

/** Where the target's boot looks for a relabel request. */
export function autorelabelPath(root: string): string {
  const os = parseKeyValues(readTargetText(root, 'etc/os-release') ?? readTargetText(root, 'usr/lib/os-release') ?? '');
  return /suse|sles/i.test(`${os.get('ID') ?? ''} ${os.get('ID_LIKE') ?? ''}`) ? SUSE_AUTORELABEL : AUTORELABEL;
}

/** The relabel request already in the target, if any. */
export function relabelRequested(root: string): string | undefined {
  return [AUTORELABEL, SUSE_AUTORELABEL].find((p) => readTargetFile(root, p) !== null);
}

export function labelOf(x: Xattrs | undefined): string | undefined {
  const v = x?.[SELINUX_XATTR];
  return v === undefined ? undefined : Buffer.from(v, 'hex').toString('latin1').replace(/\0+$/, '');
}

/** The label a change leaves on its file: the one it restores, else the one the file has now. */
function labelKept(root: string, c: FileChange): string | undefined {
  if (c.setMeta?.xattrs) return labelOf(c.setMeta.xattrs);
  if (c.before === null) return undefined;
  const host = resolveInRoot(root, c.path);
  return lstatSync(host, { throwIfNoEntry: false })?.isFile() ? labelOf(readXattrs(host)) : undefined;
}

function plural(n: number, one: string, many: string): string {
  return n === 1 ? one : many;
}

export interface LabelOptions {
  /** --no-relabel: say which files stay unlabelled instead of asking for a relabel. */
  skip?: boolean;
  /** New directories the plan makes (ssh-key's ~/.ssh), with the label they will get or undefined. */
  dirs?: Array<{ path: string; label?: string }>;
}

/** The plan with each written file's label settled, and a relabel request only for the files that cannot have one. */
export function withLabels(plan: Plan, o: LabelOptions = {}): Plan {
  const written = plan.changes.filter((c) => c.after !== null && c.path !== AUTORELABEL && c.path !== SUSE_AUTORELABEL);
  if (!written.length && !o.dirs?.length) return plan;
  const notes = [...plan.notes];
  const why = xattrsUnavailable();
  if (why) notes.push(`${why}: ${written.map((c) => c.path).join(', ')} ${plural(written.length, 'loses its', 'lose their')} extended attributes and ACL`);
  const se: SelinuxState = selinuxState(plan.root);
  if (!se.relabelNeeded) return { ...plan, notes: [...notes, `SELinux is ${se.mode === 'none' ? 'not configured' : 'disabled'} in the target: no relabel needed`] };
  const labelled: string[] = [];
  const unlabelled: string[] = [];
  const changes = plan.changes.map((c): FileChange => {
    if (!written.includes(c)) return c;
    const own = why ? undefined : labelKept(plan.root, c);
    if (own) {
      labelled.push(`${c.path} keeps ${own}`);
      return c;
    }
    const label = why ? undefined : policyLabel(plan.root, se, c.path, 'file');
    if (!label) {
      unlabelled.push(c.path);
      return c;
    }
    labelled.push(`${c.path} gets ${label} (the policy's file_contexts)`);
    return { ...c, label };
  });
  for (const d of o.dirs ?? []) {
    if (d.label && !why) labelled.push(`${d.path} gets ${d.label} (the policy's file_contexts)`);
    else unlabelled.push(d.path);
  }
  if (labelled.length) notes.push(`SELinux label: ${labelled.join('; ')}`);
  if (!unlabelled.length) return { ...plan, changes, notes, relabelOnLoss: !o.skip };
  const names = `${unlabelled.join(', ')} ${plural(unlabelled.length, 'has', 'have')} no label to keep${why ? '' : ' and the policy gives none here'}`;
  if (o.skip) return { ...plan, changes, unlabelled, notes: [...notes, `SELinux is ${se.mode} in the target and --no-relabel was given: ${names}; label ${plural(unlabelled.length, 'it', 'them')} (restorecon) before booting${se.mode === 'enforcing' ? ' enforcing' : ''}`] };
  const already = relabelRequested(plan.root);
  if (already) return { ...plan, changes, unlabelled, notes: [...notes, `SELinux is ${se.mode}: ${names}; ${already} is already there, the next boot relabels`], relabelOnLoss: true };
  const path = autorelabelPath(plan.root);
  const request: FileChange = { path, before: null, after: Buffer.alloc(0), createMode: 0o644, description: [`created: the next boot relabels every file (SELinux) and reboots once more, because ${names}`] };
  return { ...plan, changes: [...changes, request], unlabelled, notes, relabelOnLoss: true };
}

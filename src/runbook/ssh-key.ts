import { lstatSync, readFileSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { RdError, EXIT } from '../errors.js';
import { selinuxState } from '../rescue/facts.js';
import { policyLabel } from '../rescue/file-contexts.js';
import { withLabels } from '../rescue/labels.js';
import type { FileChange, Plan } from '../rescue/plan.js';
import { remountIfReadOnly } from '../rescue/relabel.js';
import { targetUser } from './accounts.js';
import { octal, type FilePlan, type MetaChange } from './file-plan.js';
import { resolveWithinTarget } from './target-path.js';

/**
 * The runbook's `ssh-key` step: append a public key to ~USER/.ssh/authorized_keys
 * in the target, with sshd's StrictModes in mind (.ssh 0700, the file 0600,
 * both owned by the user). ~/.ssh belongs to the user, who could have
 * planted a link there (authorized_keys -> /etc/shadow) for root to write
 * through; links at .ssh or authorized_keys are refused, never followed.
 */
export interface SshKeyOptions {
  user: string;
  /** One authorized_keys line: [options] TYPE BASE64 [comment]. */
  key: string;
}

const KEY_RE = /(?:^|\s)((?:ssh-(?:rsa|dss|ed25519|ed448)|ecdsa-sha2-nistp(?:256|384|521)|sk-(?:ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)(?:-cert-v01@openssh\.com)?)\s+([A-Za-z0-9+/]+={0,2})(?=\s|$)/;

/** "TYPE BASE64" of an authorized_keys line, checked against the type the key blob names itself. */
export function keyIdentity(line: string): string | undefined {
  const m = KEY_RE.exec(line);
  if (!m) return undefined;
  const blob = Buffer.from(m[2], 'base64');
  if (blob.length < 4) return undefined;
  const n = blob.readUInt32BE(0);
  if (4 + n > blob.length || blob.subarray(4, 4 + n).toString('latin1') !== m[1]) return undefined;
  return `${m[1]} ${m[2]}`;
}

export function checkSshKey(key: string): string {
  if (/[\r\n\0]/.test(key)) throw new RdError('ssh-key: the key must be one line (a newline would add lines of its own to authorized_keys)', {}, EXIT.refused);
  const id = keyIdentity(key.trim());
  if (!id) throw new RdError(`ssh-key: not a public key line ("TYPE BASE64 [comment]", as in id_ed25519.pub): ${JSON.stringify(key.slice(0, 40))}`, {}, EXIT.badInput);
  return id;
}

function refuseLink(st: Stats | undefined, inner: string): void {
  if (st?.isSymbolicLink()) throw new RdError(`${inner} is a symbolic link; refusing to write through a link in a user's directory (it may point at /etc/shadow or out of the target)`, {}, EXIT.refused);
}

export function planSshKey(root: string, o: SshKeyOptions): FilePlan {
  const id = checkSshKey(o.key);
  const u = targetUser(root, o.user);
  if (!u) throw new RdError(`ssh-key: unknown user ${JSON.stringify(o.user)}: not in the target's /etc/passwd`, {}, EXIT.badInput);
  if (!u.home.startsWith('/')) throw new RdError(`ssh-key: ${o.user} has no home directory in /etc/passwd`, {}, EXIT.badInput);
  const home = resolveWithinTarget(root, u.home);
  if (!lstatSync(join(root, home.inner), { throwIfNoEntry: false })?.isDirectory()) throw new RdError(`ssh-key: the home directory ${u.home} of ${o.user} does not exist in the target`, {}, EXIT.badInput);
  const dir = `${home.inner === '/' ? '' : home.inner}/.ssh`;
  const file = `${dir}/authorized_keys`;
  const dst = lstatSync(join(root, dir), { throwIfNoEntry: false });
  refuseLink(dst, dir);
  if (dst && !dst.isDirectory()) throw new RdError(`${dir} exists and is not a directory`, {}, EXIT.badInput);
  const fst = dst ? lstatSync(join(root, file), { throwIfNoEntry: false }) : undefined;
  refuseLink(fst, file);
  if (fst && !fst.isFile()) throw new RdError(`${file} exists and is not a regular file`, {}, EXIT.badInput);
  const own = { uid: u.uid, gid: u.gid };
  const before: MetaChange[] = [];
  const after: MetaChange[] = [];
  const se = selinuxState(root);
  const dirLabel = !dst && se.relabelNeeded ? policyLabel(root, se, dir, 'dir') : undefined;
  if (!dst) before.push({ path: dir, mkdir: true, ...own, mode: 0o700, label: dirLabel, what: `created, mode 0700, owner ${o.user} (${u.uid}:${u.gid})` });
  else if ((dst.mode & 0o7777) !== 0o700 || dst.uid !== u.uid || dst.gid !== u.gid) before.push({ path: dir, ...own, mode: 0o700, what: `mode ${octal(dst.mode)} -> 0700, owner ${dst.uid}:${dst.gid} -> ${u.uid}:${u.gid}` });
  if (fst && ((fst.mode & 0o7777) !== 0o600 || fst.uid !== u.uid || fst.gid !== u.gid)) before.push({ path: file, ...own, mode: 0o600, what: `mode ${octal(fst.mode)} -> 0600, owner ${fst.uid}:${fst.gid} -> ${u.uid}:${u.gid}` });
  const old = fst ? readFileSync(join(root, file)) : null;
  const present = (old?.toString('utf8') ?? '').split('\n').some((l) => !l.trim().startsWith('#') && keyIdentity(l) === id);
  const changes: FileChange[] = [];
  if (!present) {
    const text = old?.toString('utf8') ?? '';
    const next = `${text}${text && !text.endsWith('\n') ? '\n' : ''}${o.key.trim()}\n`;
    changes.push({ path: file, before: old, after: Buffer.from(next, 'utf8'), createMode: 0o600, description: [`key ${id.split(' ')[0]} …${id.slice(-12)} added for ${o.user}`, ...before.map((m) => `${m.path === file ? 'file' : m.path} ${m.what}`)] });
    if (!fst) after.push({ path: file, ...own, what: `owner ${o.user} (${u.uid}:${u.gid})` });
  }
  const satisfied = changes.length === 0 && before.length === 0;
  const plan: Plan = { action: 'ssh-key', root, subject: o.user, changes, remount: satisfied ? undefined : remountIfReadOnly(root), notes: present ? [`the key is already in ${file}`] : [], satisfied };
  return {
    plan: withLabels(plan, { dirs: dst ? [] : [{ path: dir, label: dirLabel }] }),
    before,
    after,
    satisfied,
  };
}

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RdError, EXIT } from '../errors.js';
import { applyPlan, type ApplyOptions, type ApplyResult, type FileChange, type Plan } from './plan.js';
import { loadUserShadow, shadowChange } from './passwd.js';
import { withLabels } from './labels.js';
import { remountIfReadOnly } from './relabel.js';
import { isExpired, type ShadowEntry } from './shadow.js';
import { readTargetText, resolveInRoot } from './target.js';

/**
 * Gets a user back in without changing their password: removes the "!"
 * lock (usermod -U), clears a passed expiry date, and resets pam_faillock's
 * tally when the target keeps it on disk (the default /var/run/faillock is
 * a tmpfs and is empty at boot anyway).
 */
const FAILLOCK_DEFAULT = '/var/run/faillock';
const PAM_FILES = ['/etc/pam.d/system-auth', '/etc/pam.d/password-auth', '/etc/pam.d/common-auth', '/etc/pam.d/common-account', '/etc/pam.d/login', '/etc/pam.d/sshd'];

/** Every faillock tally directory the target configures (faillock.conf `dir =`, pam_faillock `dir=`). */
export function faillockDirs(root: string): string[] {
  const dirs = new Set<string>();
  const conf = readTargetText(root, '/etc/security/faillock.conf');
  const m = conf && /^\s*dir\s*=\s*(\S+)/m.exec(conf);
  dirs.add(m ? m[1] : FAILLOCK_DEFAULT);
  for (const f of PAM_FILES) {
    for (const line of (readTargetText(root, f) ?? '').split('\n')) {
      const d = !line.trim().startsWith('#') && /pam_faillock\.so/.test(line) ? /\bdir=(\S+)/.exec(line) : null;
      if (d) dirs.add(d[1]);
    }
  }
  return [...dirs];
}

function isVolatile(dir: string): boolean {
  return /^\/(var\/)?run(\/|$)/.test(dir);
}

export interface UnlockOptions {
  user: string;
  noRelabel?: boolean;
  now?: Date;
}

export function planUnlock(root: string, o: UnlockOptions): Plan {
  const loaded = loadUserShadow(root, o.user);
  const old = loaded.entry;
  const e: ShadowEntry = { ...old };
  const what: string[] = [];
  const notes: string[] = [];
  if (old.password.startsWith('!')) {
    const rest = old.password.replace(/^!+/, '');
    if (rest === '' || rest === '*' || rest === 'x') {
      throw new RdError(`${o.user} has no password behind its "!" lock, so unlocking would leave no way (or no password) to log in; set one: rdrescue passwd ${o.user}`, {}, EXIT.refused);
    }
    e.password = rest;
    what.push(`"!" lock removed from the password of ${o.user}`);
  } else if (old.password === '*' || old.password === '') {
    notes.push(`${o.user} has ${old.password === '' ? 'an empty password field' : 'no password ("*")'}; set one with: rdrescue passwd ${o.user}`);
  }
  if (isExpired(old, o.now)) {
    e.expire = '';
    what.push(`account expiry (day ${old.expire}, passed) cleared`);
  }
  const changes: FileChange[] = [];
  const sc = shadowChange(loaded, e, what);
  if (sc) {
    changes.push(sc);
  }
  for (const dir of faillockDirs(root)) {
    if (isVolatile(dir)) continue;
    const tally = join(dir, o.user);
    let before: Buffer;
    try {
      before = readFileSync(resolveInRoot(root, tally));
    } catch {
      continue;
    }
    if (before.length) changes.push({ path: tally, before, after: Buffer.alloc(0), description: [`faillock tally of ${o.user} reset (${before.length} bytes of failed attempts)`] });
  }
  return withLabels({
    action: 'unlock',
    root,
    subject: o.user,
    changes,
    remount: changes.length ? remountIfReadOnly(root) : undefined,
    lockShadow: sc !== undefined,
    notes,
    satisfied: changes.length === 0,
  }, { skip: o.noRelabel });
}

export async function unlockUser(opts: UnlockOptions & ApplyOptions & { root: string }): Promise<ApplyResult> {
  return applyPlan(planUnlock(opts.root, opts), opts);
}

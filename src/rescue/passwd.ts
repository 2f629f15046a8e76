import { readFileSync } from 'node:fs';
import { FormatError, RdError, EXIT } from '../errors.js';
import { applyPlan, type ApplyOptions, type ApplyResult, type FileChange, type Plan } from './plan.js';
import { withLabels } from './labels.js';
import { remountIfReadOnly } from './relabel.js';
import { hashPassword } from './sha512crypt.js';
import { checkUserName, daysSinceEpoch, findUser, isExpired, parseShadow, passwdUsers, serializeShadow, withEntry, type ShadowEntry, type ShadowFile } from './shadow.js';
import { resolveInRoot } from './target.js';

export const SHADOW = '/etc/shadow';
export const SHADOW_BACKUP = '/etc/shadow-';

export interface LoadedShadow {
  raw: Buffer;
  file: ShadowFile;
  index: number;
  entry: ShadowEntry;
}

/** Reads the target's shadow and the user's line, with the errors a rescuer needs to see. */
export function loadUserShadow(root: string, user: string): LoadedShadow {
  checkUserName(user);
  const path = resolveInRoot(root, SHADOW);
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new RdError(`the target has no ${SHADOW}; is ${root} the right root (and a system with shadow passwords)?`, { file: path }, EXIT.badInput);
    throw new RdError(`cannot read: ${(e as Error).message}`, { file: path });
  }
  const file = parseShadow(raw.toString('latin1'));
  const hit = findUser(file, user, path);
  if (!hit) {
    let known = false;
    try {
      known = passwdUsers(readFileSync(resolveInRoot(root, '/etc/passwd'), 'latin1')).includes(user);
    } catch {
      /* reported as unknown */
    }
    if (known) throw new FormatError(`user ${JSON.stringify(user)} is in /etc/passwd but has no line here; run pwconv in the chroot (rdrescue chroot -- pwconv), then try again`, { file: path });
    throw new RdError(`unknown user ${JSON.stringify(user)}: not in the target's /etc/passwd or /etc/shadow`, { file: path }, EXIT.badInput);
  }
  return { raw, file, ...hit };
}

/** The shadow rewrite as a plan change: only line `index` differs. */
export function shadowChange(loaded: LoadedShadow, entry: ShadowEntry, description: string[]): FileChange | undefined {
  const after = Buffer.from(serializeShadow(withEntry(loaded.file, loaded.index, entry)), 'latin1');
  if (after.equals(loaded.raw)) return undefined;
  return { path: SHADOW, before: loaded.raw, after, backup: SHADOW_BACKUP, description };
}

/** A crypt string for --hash: anything crypt(3) might accept, but never something that breaks the file. */
export function checkCryptString(hash: string): void {
  if (hash === '' || /[:\n\r\0]/.test(hash)) throw new RdError('--hash must be a crypt string without ":" or newlines (make one with: rdrescue hash)', {}, EXIT.usage);
}

/** A password we are willing to set; the message never quotes it. */
export function checkPassword(password: string): void {
  if (password === '') throw new RdError('the password is empty; refusing to set an empty password', {}, EXIT.usage);
  if (/[\0\n\r]/.test(password)) throw new RdError('the password contains a NUL or newline character, which login prompts cannot send', {}, EXIT.usage);
}

export interface PasswordOptions {
  user: string;
  /** The new password (hashed here with $6$); exactly one of password and hash. */
  password?: string;
  /** A ready crypt string, used as given. */
  hash?: string;
  /** Never ask for a relabel, even when SELinux is on and a file has no label to keep (the notes name it). */
  noRelabel?: boolean;
  /** Clear a passed account expiry date (field 8). */
  clearExpiry?: boolean;
  /** Force a password change at next login (lastchg 0). */
  expire?: boolean;
  /** Rounds for $6$ (default: the implicit 5000). */
  rounds?: number;
  now?: Date;
}

export function planPassword(root: string, o: PasswordOptions): Plan {
  if ((o.password === undefined) === (o.hash === undefined)) throw new RdError('give exactly one of a password and a hash', {}, EXIT.usage);
  if (o.hash !== undefined) checkCryptString(o.hash);
  if (o.password !== undefined) checkPassword(o.password);
  const loaded = loadUserShadow(root, o.user);
  const old = loaded.entry;
  const now = o.now ?? new Date();
  const today = daysSinceEpoch(now);
  const e: ShadowEntry = { ...old, password: o.hash ?? hashPassword(o.password!, o.rounds) };
  const what: string[] = [`password of ${o.user} replaced (${o.hash !== undefined ? 'hash given with --hash' : 'new SHA-512-crypt $6$ hash'})${old.password.startsWith('!') ? '; the "!" lock went with the old hash' : ''}`];
  const notes: string[] = [];
  e.lastchg = o.expire ? '0' : String(today);
  what.push(o.expire ? 'lastchg set to 0: a new password is required at next login' : `lastchg set to ${today} (today)`);
  if (isExpired(old, now)) {
    if (o.clearExpiry) {
      e.expire = '';
      what.push(`account expiry (day ${old.expire}, passed) cleared`);
    } else notes.push(`the account of ${o.user} expired on day ${old.expire} (${new Date(Number(old.expire) * 86_400_000).toISOString().slice(0, 10)}); it still cannot log in: add --clear-expiry`);
  }
  const change = shadowChange(loaded, e, what);
  const changes: FileChange[] = change ? [change] : [];
  return withLabels({
    action: 'passwd',
    root,
    subject: o.user,
    changes,
    remount: changes.length ? remountIfReadOnly(root) : undefined,
    lockShadow: true,
    notes,
    satisfied: changes.length === 0,
  }, { skip: o.noRelabel });
}

/** Plans and applies a password reset (the library form of `rdrescue passwd`). */
export async function resetPassword(opts: PasswordOptions & ApplyOptions & { root: string }): Promise<ApplyResult> {
  return applyPlan(planPassword(opts.root, opts), opts);
}

import { FormatError } from '../errors.js';

/**
 * /etc/shadow as lines of bytes. Only the line we edit is re-serialised;
 * every other byte (comments, odd spacing, a missing final newline, lines we
 * do not understand) is carried through untouched.
 */
export const SHADOW_FIELDS = ['name', 'password', 'lastchg', 'min', 'max', 'warn', 'inactive', 'expire', 'reserved'] as const;

export interface ShadowEntry {
  name: string;
  password: string;
  lastchg: string;
  min: string;
  max: string;
  warn: string;
  inactive: string;
  expire: string;
  reserved: string;
}

export interface ShadowLine {
  /** The line without its newline, exactly as read. */
  raw: string;
  /** 1-based line number, for error messages. */
  lineNo: number;
}

export interface ShadowFile {
  lines: ShadowLine[];
  /** Whether the file ended with a newline (kept as found). */
  finalNewline: boolean;
}

export function parseShadow(text: string): ShadowFile {
  const finalNewline = text.endsWith('\n');
  const body = finalNewline ? text.slice(0, -1) : text;
  const lines = body === '' && finalNewline === false ? [] : body.split('\n').map((raw, i) => ({ raw, lineNo: i + 1 }));
  return { lines, finalNewline };
}

export function serializeShadow(f: ShadowFile): string {
  return f.lines.map((l) => l.raw).join('\n') + (f.finalNewline ? '\n' : '');
}

/** The user a line belongs to (its first field), or undefined for blank/comment lines. */
function lineUser(raw: string): string | undefined {
  if (raw === '' || raw.startsWith('#')) return undefined;
  return raw.split(':', 1)[0];
}

/** Splits one line into its 9 fields, or explains (with file and line) why it cannot. */
export function parseEntry(line: ShadowLine, file: string): ShadowEntry {
  const f = line.raw.split(':');
  if (f.length !== 9) {
    throw new FormatError(`line ${line.lineNo} (user ${JSON.stringify(f[0])}) has ${f.length} fields, a shadow entry has 9; fix it by hand, nothing was changed`, { file });
  }
  const e = {} as ShadowEntry;
  SHADOW_FIELDS.forEach((k, i) => (e[k] = f[i]));
  return e;
}

export function formatEntry(e: ShadowEntry): string {
  return SHADOW_FIELDS.map((k) => e[k]).join(':');
}

/** The one line for `user`; errors for none or several (an ambiguous file is not ours to guess). */
export function findUser(f: ShadowFile, user: string, file: string): { index: number; entry: ShadowEntry } | undefined {
  const hits = f.lines.flatMap((l, i) => (lineUser(l.raw) === user ? [i] : []));
  if (hits.length > 1) throw new FormatError(`user ${JSON.stringify(user)} appears on ${hits.length} lines (${hits.map((i) => f.lines[i].lineNo).join(', ')}); fix it by hand, nothing was changed`, { file });
  if (hits.length === 0) return undefined;
  return { index: hits[0], entry: parseEntry(f.lines[hits[0]], file) };
}

/** A copy of `f` with line `index` replaced by `entry`. */
export function withEntry(f: ShadowFile, index: number, entry: ShadowEntry): ShadowFile {
  const lines = f.lines.slice();
  lines[index] = { raw: formatEntry(entry), lineNo: f.lines[index].lineNo };
  return { lines, finalNewline: f.finalNewline };
}

/** Days since 1970-01-01 (UTC), the unit of lastchg and expire. */
export function daysSinceEpoch(now: Date = new Date()): number {
  return Math.floor(now.getTime() / 86_400_000);
}

/** Whether field 8 (account expiry) lies in the past. */
export function isExpired(e: ShadowEntry, now: Date = new Date()): boolean {
  return e.expire !== '' && /^\d+$/.test(e.expire) && Number(e.expire) <= daysSinceEpoch(now);
}

/** A user name that can be a shadow key: no separator, newline or NUL, not empty. */
export function checkUserName(user: string): void {
  if (user === '' || /[:\n\0]/.test(user)) throw new FormatError(`${JSON.stringify(user)} is not a valid user name`);
}

/** The users in etc/passwd (first field of each line), to tell "unknown user" from "no shadow entry". */
export function passwdUsers(text: string): string[] {
  return text.split('\n').flatMap((l) => (l === '' || l.startsWith('#') ? [] : [l.split(':', 1)[0]]));
}

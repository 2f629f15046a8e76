import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FormatError } from '../errors.js';
import type { FileMeta } from './file-meta.js';
import { resolveInRoot } from './target.js';

/**
 * What rdrescue changed in a target, kept inside the target as JSON lines in
 * /var/log/rdrescue.log so whoever boots it next can read it. Entries name
 * files and fields, never passwords or hashes. Each changed file's previous
 * content is saved under /var/lib/rdrescue/undo/ID/ (mode 0600) so
 * `status --undo LAST` can put it back even after `shadow-` has been
 * overwritten by a later change.
 */
export const JOURNAL_PATH = 'var/log/rdrescue.log';
export const UNDO_DIR = 'var/lib/rdrescue/undo';

export function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;
}

export interface JournalFile {
  /** Target path, absolute inside the target ("/etc/shadow"). */
  path: string;
  /** Whether the file existed before the change. */
  existed: boolean;
  /** Where its previous content is saved, inside the target. */
  saved?: string;
  /** Mode, owner and extended attributes it had before the change, put back by undo (entries older than this field keep the current ones). */
  meta?: FileMeta;
  /** sha256 of the content we left (absent: we removed it); undo checks nobody changed it since. */
  afterSha256?: string;
}

export interface JournalEntry {
  id: number;
  time: string;
  action: string;
  subject?: string;
  summary: string[];
  files: JournalFile[];
  /** For an undo: the entry it reverted. */
  undoes?: number;
  /** Files the change left without an SELinux label: a relabel request stays while an entry not undone lists some. */
  unlabelled?: string[];
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

export function readJournal(root: string): JournalEntry[] {
  const path = resolveInRoot(root, JOURNAL_PATH);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  const out: JournalEntry[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    try {
      out.push(JSON.parse(line) as JournalEntry);
    } catch {
      throw new FormatError(`line ${i + 1} is not JSON; the journal was edited or cut short`, { file: path });
    }
  });
  return out;
}

export function nextJournalId(root: string): number {
  return readJournal(root).reduce((m, e) => Math.max(m, e.id), 0) + 1;
}

export function undoneIds(entries: JournalEntry[]): Set<number> {
  return new Set(entries.flatMap((e) => (e.undoes !== undefined ? [e.undoes] : [])));
}

/** The newest entry that changed something and has not been undone. */
export function lastUndoable(entries: JournalEntry[]): JournalEntry | undefined {
  const undone = undoneIds(entries);
  for (let i = entries.length - 1; i >= 0; i--) {
    const e = entries[i];
    if (e.undoes === undefined && !undone.has(e.id) && e.files.length > 0) return e;
  }
  return undefined;
}

function writeDurably(path: string, data: Buffer | string, flags: string, mode: number): void {
  // System directories the journal may have to create (/var/log, /var/lib) keep their usual 0755;
  // only rdrescue's own store of pre-change copies is private.
  const dir = dirname(path);
  const priv = dir.indexOf('/var/lib/rdrescue');
  if (priv >= 0) {
    mkdirSync(dir.slice(0, priv) + '/var/lib', { recursive: true, mode: 0o755 });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } else mkdirSync(dir, { recursive: true, mode: 0o755 });
  const fd = openSync(path, flags, mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Saves `content` as the pre-change copy of `path` for entry `id`; returns its target path. */
export function saveUndoCopy(root: string, id: number, path: string, content: Buffer): string {
  const rel = join(UNDO_DIR, String(id), path.replace(/^\/+/, '').replace(/\//g, '%'));
  writeDurably(resolveInRoot(root, rel), content, 'w', 0o600);
  return `/${rel}`;
}

export function appendJournal(root: string, entry: JournalEntry): void {
  writeDurably(resolveInRoot(root, JOURNAL_PATH), JSON.stringify(entry) + '\n', 'a', 0o600);
}

import type { ReadOptions } from '../image/read.js';
import { mergedView, type ViewEntry } from './merged-view.js';
import { unifiedDiff } from './unified-diff.js';

/** The facts compared for each path (mtimes and inode numbers differ between any two builds, so they are not). */
export const DIFF_FIELDS = ['type', 'perm', 'uid', 'gid', 'size', 'sha256', 'target', 'rdev'] as const;
export type DiffField = (typeof DIFF_FIELDS)[number];

/** One side of a path, as shown in the report. */
export interface DiffSide {
  type: ViewEntry['type'];
  /** Octal permission bits, e.g. "0755". */
  mode: string;
  uid: number;
  gid: number;
  size: number;
  sha256?: string;
  target?: string;
  rdev?: string;
}

export interface DiffChange {
  path: string;
  status: 'added' | 'removed' | 'changed';
  /** For changed paths: which facts differ. */
  fields?: DiffField[];
  a?: DiffSide;
  b?: DiffSide;
  /** With `content`: the unified diff of a changed text file, or why there is none. */
  diff?: string;
}

export interface DiffReport {
  a: string;
  b: string;
  summary: { added: number; removed: number; changed: number };
  changes: DiffChange[];
}

export interface DiffOptions extends ReadOptions {
  /** Unified diffs of changed text files up to `maxContent` bytes. */
  content?: boolean;
  maxContent?: number;
}

/** Files larger than this get no --content diff: reading them twice into memory is not worth it. */
export const MAX_CONTENT = 1 << 20;

const display = (p: string) => (p === '' ? '.' : p);

function side(v: ViewEntry): DiffSide {
  return {
    type: v.type,
    mode: v.perm.toString(8).padStart(4, '0'),
    uid: v.uid,
    gid: v.gid,
    size: v.size,
    sha256: v.sha256,
    target: v.target,
    rdev: v.type === 'char' || v.type === 'block' ? `${v.rdevMajor},${v.rdevMinor}` : undefined,
  };
}

function differing(a: ViewEntry, b: ViewEntry): DiffField[] {
  const out: DiffField[] = [];
  if (a.type !== b.type) out.push('type');
  if (a.perm !== b.perm) out.push('perm');
  if (a.uid !== b.uid) out.push('uid');
  if (a.gid !== b.gid) out.push('gid');
  if (a.type === b.type) {
    if (a.size !== b.size) out.push('size');
    if (a.sha256 !== b.sha256) out.push('sha256');
    if (a.target !== b.target) out.push('target');
    if (a.rdevMajor !== b.rdevMajor || a.rdevMinor !== b.rdevMinor) out.push('rdev');
  }
  return out;
}

/**
 * Compares two images path by path in their merged views (what the kernel
 * leaves after unpacking every segment): added, removed and changed entries,
 * sorted by path. Contents are compared by sha256, streamed; `content`
 * reads both images a second time for the changed text files only.
 */
export async function diffImages(imageA: string, imageB: string, opts: DiffOptions = {}): Promise<DiffReport> {
  const va = await mergedView(imageA, { ...opts, hash: true });
  const vb = await mergedView(imageB, { ...opts, hash: true });
  const changes: DiffChange[] = [];
  for (const [p, a] of va) {
    const b = vb.get(p);
    if (!b) changes.push({ path: display(p), status: 'removed', a: side(a) });
    else {
      const fields = differing(a, b);
      if (fields.length) changes.push({ path: display(p), status: 'changed', fields, a: side(a), b: side(b) });
    }
  }
  for (const [p, b] of vb) if (!va.has(p)) changes.push({ path: display(p), status: 'added', b: side(b) });
  changes.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  if (opts.content) await addContentDiffs(imageA, imageB, changes, opts);
  const count = (s: DiffChange['status']) => changes.filter((c) => c.status === s).length;
  return { a: imageA, b: imageB, summary: { added: count('added'), removed: count('removed'), changed: count('changed') }, changes };
}

async function addContentDiffs(imageA: string, imageB: string, changes: DiffChange[], opts: DiffOptions): Promise<void> {
  const max = opts.maxContent ?? MAX_CONTENT;
  const candidates = changes.filter((c) => c.status === 'changed' && c.a!.type === 'file' && c.b!.type === 'file' && c.fields!.includes('sha256'));
  const small = candidates.filter((c) => c.a!.size <= max && c.b!.size <= max);
  for (const c of candidates) if (!small.includes(c)) c.diff = `larger than ${max} bytes: no content diff`;
  if (small.length === 0) return;
  const keys = new Set(small.map((c) => (c.path === '.' ? '' : c.path)));
  const read = { ...opts, contents: keys };
  const ca = await mergedView(imageA, read);
  const cb = await mergedView(imageB, read);
  for (const c of small) {
    const x = ca.get(c.path)?.content ?? Buffer.alloc(0);
    const y = cb.get(c.path)?.content ?? Buffer.alloc(0);
    if (x.includes(0) || y.includes(0)) {
      c.diff = `Binary files a/${c.path} and b/${c.path} differ\n`;
      continue;
    }
    c.diff = unifiedDiff(x.toString('utf8'), y.toString('utf8'), `a/${c.path}`, `b/${c.path}`) ?? `too many differing lines: no content diff\n`;
  }
}

/** The text report: one line per change, then the summary line. */
export function formatDiff(r: DiffReport): string {
  const lines: string[] = [];
  for (const c of r.changes) {
    if (c.status === 'added') lines.push(`+ ${c.path}  (${describe(c.b!)})`);
    else if (c.status === 'removed') lines.push(`- ${c.path}  (${describe(c.a!)})`);
    else {
      const parts = c.fields!.map((f) => {
        const [x, y] = [fieldText(c.a!, f), fieldText(c.b!, f)];
        return `${f} ${x} -> ${y}`;
      });
      lines.push(`~ ${c.path}  ${parts.join(', ')}`);
    }
    if (c.diff) lines.push(c.diff.replace(/\n$/, ''));
  }
  const s = r.summary;
  lines.push(`${s.added} added, ${s.removed} removed, ${s.changed} changed`);
  return lines.join('\n') + '\n';
}

function describe(s: DiffSide): string {
  const parts: string[] = [s.type, s.mode, `${s.uid}:${s.gid}`];
  if (s.type === 'file') parts.push(`${s.size} bytes`);
  if (s.target !== undefined) parts.push(`-> ${s.target}`);
  if (s.rdev) parts.push(s.rdev);
  return parts.join(', ');
}

function fieldText(s: DiffSide, f: DiffField): string {
  switch (f) {
    case 'perm':
      return s.mode;
    case 'sha256':
      return (s.sha256 ?? '-').slice(0, 12);
    case 'target':
      return JSON.stringify(s.target ?? null);
    default:
      return String(s[f] ?? '-');
  }
}

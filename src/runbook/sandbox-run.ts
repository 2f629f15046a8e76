import { lstatSync, readFileSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { openOverlayView, type OverlayChange } from '../sandbox/overlay-view.js';
import { UNDO_DIR } from '../rescue/journal.js';
import { unifiedDiff } from '../write/unified-diff.js';
import type { Runbook } from './load.js';
import { planRunbook, runRunbook, type RunbookReport } from './runner.js';
import { octal } from './file-plan.js';

/**
 * `rdrescue run RUNBOOK --sandbox`: the runbook applied to a copy-on-write
 * view of the target (the sandbox library's overlay, mounted in a private
 * namespace), and what it changed there as a diff. The target itself is
 * only read: the overlay's lower layer is a read-only bind of it.
 */
export interface SandboxFileChange extends OverlayChange {
  /** Unified diff for text files (shadow password fields redacted). */
  diff?: string;
  /** Mode/owner changes, binary sizes, or why no content is shown. */
  notes: string[];
}

export interface SandboxRun {
  report: RunbookReport;
  changes: SandboxFileChange[];
}

const SECRET_FILES = /^\/etc\/g?shadow-?$/;
const MAX_SHOWN = 1 << 20;

function readText(p: string, st: Stats | undefined): string | undefined {
  if (!st?.isFile() || st.size > MAX_SHOWN) return undefined;
  const b = readFileSync(p);
  const t = b.toString('utf8');
  return b.includes(0) || Buffer.from(t, 'utf8').length !== b.length ? undefined : t;
}

/** Password fields are secrets even in a diff: only their being changed shows. */
function redact(path: string, text: string): string {
  if (!SECRET_FILES.test(path)) return text;
  return text.replace(/^([^:\n]*):([^:\n]+)(?=:)/gm, (_, u: string, pw: string) => `${u}:<${pw.startsWith('!') ? 'locked ' : ''}hash ${pw.length} chars>`);
}

function describe(c: OverlayChange, view: string, lower: string): SandboxFileChange {
  const out: SandboxFileChange = { ...c, notes: [] };
  const a = c.change === 'added' ? undefined : lstatSync(join(lower, c.path), { throwIfNoEntry: false });
  const b = c.change === 'deleted' ? undefined : lstatSync(join(view, c.path), { throwIfNoEntry: false });
  if (a && b && ((a.mode & 0o7777) !== (b.mode & 0o7777) || a.uid !== b.uid || a.gid !== b.gid)) out.notes.push(`mode ${octal(a.mode)} -> ${octal(b.mode)}, owner ${a.uid}:${a.gid} -> ${b.uid}:${b.gid}`);
  else if (b && !a) out.notes.push(`mode ${octal(b.mode)}, owner ${b.uid}:${b.gid}`);
  if (c.type !== 'file') return out;
  if (c.path.startsWith(`/${UNDO_DIR}/`)) {
    out.notes.push('a copy saved for `rdrescue status --undo`; content not shown');
    return out;
  }
  const ta = a ? readText(join(lower, c.path), a) : '';
  const tb = b ? readText(join(view, c.path), b) : '';
  if (ta === undefined || tb === undefined) {
    out.notes.push(`binary or large: ${a?.size ?? 0} -> ${b?.size ?? 0} bytes`);
    return out;
  }
  const d = unifiedDiff(redact(c.path, ta), redact(c.path, tb), c.change === 'added' ? '/dev/null' : `a${c.path}`, c.change === 'deleted' ? '/dev/null' : `b${c.path}`);
  if (d === undefined) out.notes.push('too many lines differ to show');
  else if (d) out.diff = d;
  else if (c.change === 'modified') out.notes.push('only password hashes changed (not shown)');
  return out;
}

export async function runRunbookInSandbox(rb: Runbook, root: string): Promise<SandboxRun> {
  planRunbook(rb, { root }); // refuses a hostile runbook before any overlay exists
  const view = await openOverlayView(root);
  try {
    const report = await runRunbook(rb, { root: view.dir, mountRoot: root, sandbox: true });
    const changes = view.changes().map((c) => describe(c, view.dir, root));
    return { report, changes };
  } finally {
    await view.close();
  }
}

export function formatSandboxChanges(changes: SandboxFileChange[]): string[] {
  if (!changes.length) return ['sandbox: the runbook changed no file'];
  const undo = `/${UNDO_DIR}`;
  const saved = changes.filter((c) => c.path === undo || c.path.startsWith(`${undo}/`) || undo.startsWith(`${c.path}/`));
  const shown = changes.filter((c) => !saved.includes(c));
  const out = [`sandbox: the runbook would change ${changes.length} path${changes.length > 1 ? 's' : ''} (the target itself is unchanged):`];
  const copies = saved.filter((c) => c.type === 'file').length;
  if (saved.length) out.push(`added ${undo}/…: ${copies} ${copies === 1 ? 'copy' : 'copies'} of replaced files, kept for rdrescue status --undo`);
  for (const c of shown) {
    out.push(`${c.change} ${c.path}${c.type === 'file' ? '' : ` (${c.type})`}${c.notes.length ? `: ${c.notes.join('; ')}` : ''}`);
    if (c.diff) out.push(...c.diff.replace(/\n$/, '').split('\n').map((l) => `    ${l}`));
  }
  return out;
}

import { spawn, type ChildProcess } from 'node:child_process';
import { lstatSync, readdirSync, readFileSync, type Stats } from 'node:fs';
import { join, posix } from 'node:path';
import { RdError, EXIT } from '../errors.js';
import { findProgram } from '../rescue/programs.js';
import { pickScratch } from './plan.js';

/**
 * A copy-on-write view of a directory for code that runs in rdrescue itself
 * (the runbook engine's `run --sandbox`): reads see the directory, writes and
 * deletions land in a throw-away layer, and `changes()` lists what differs.
 *
 * The overlay is mounted in a private mount namespace held by a small helper
 * process, never in the host's: rdrescue reaches it through
 * /proc/HELPER/root, which walks the helper's mount tree. The host mount
 * table never changes, and if rdrescue is SIGKILLed the helper dies with it
 * (parent-death signal) and the kernel drops the namespace, overlay and
 * tmpfs upper layer included: nothing survives on disk.
 */
export interface OverlayView {
  /** Where to read and write the view. */
  readonly dir: string;
  changes(): OverlayChange[];
  close(): Promise<void>;
}

export interface OverlayChange {
  /** Absolute path inside the view. */
  path: string;
  change: 'added' | 'modified' | 'deleted';
  type: 'file' | 'dir' | 'symlink' | 'other';
}

const HOLDER_SCRIPT = String.raw`
set -eu
C=$RDS_SCRATCH
mount -n -t tmpfs -o mode=0755 rdrescue-view "$C"
mkdir "$C/lower" "$C/upper" "$C/work" "$C/view"
mount -n --bind "$RDS_DIR" "$C/lower"
mount -n -o remount,bind,ro "$C/lower"
mount -n -t overlay -o lowerdir="$C/lower",upperdir="$C/upper",workdir="$C/work" rdrescue-view "$C/view"
echo ready
read -r _ || :
`;

export async function openOverlayView(dir: string): Promise<OverlayView> {
  const lower = lstatSync(dir, { throwIfNoEntry: false });
  if (!lower?.isDirectory()) throw new RdError('not a directory', { file: dir }, EXIT.usage);
  const setpriv = findProgram('setpriv');
  const unshare = findProgram('unshare');
  if (!setpriv || !unshare) throw new RdError('an overlay view needs util-linux (unshare, setpriv)');
  const scratch = pickScratch([dir]);
  const userns = process.getuid?.() !== 0 ? ['--map-root-user'] : [];
  const holder = spawn(setpriv, ['--pdeathsig', 'KILL', '--', unshare, '--mount', '--propagation', 'private', ...userns, '--', '/bin/sh', '-c', HOLDER_SCRIPT], {
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', RDS_SCRATCH: scratch, RDS_DIR: dir },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  await holderReady(holder, dir);
  const base = `/proc/${holder.pid}/root${scratch}`;
  let closed = false;
  return {
    dir: `${base}/view`,
    changes: () => listChanges(`${base}/upper`, dir),
    close: async () => {
      if (closed) return;
      closed = true;
      const gone = new Promise((r) => holder.once('close', r));
      holder.stdin!.end();
      await gone;
    },
  };
}

/** Runs `fn` on a copy-on-write view of `dir`; returns its result and what it changed. `dir` itself is never written. */
export async function withOverlayView<T>(dir: string, fn: (view: string) => Promise<T> | T): Promise<{ result: T; changes: OverlayChange[] }> {
  const view = await openOverlayView(dir);
  try {
    const result = await fn(view.dir);
    return { result, changes: view.changes() };
  } finally {
    await view.close();
  }
}

function holderReady(holder: ChildProcess, dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    holder.stderr!.on('data', (d) => (err += d));
    holder.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('ready\n')) resolve();
    });
    holder.on('error', reject);
    holder.on('close', (code) => {
      const why = err.trim().split('\n').pop() || `exit status ${code}`;
      reject(new RdError(`cannot set up an overlay view: ${why}`, { file: dir }));
    });
  });
}

function typeOf(st: Stats): OverlayChange['type'] {
  return st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
}

/** Same type and content (a file opened for writing is copied up even when nothing changed). */
function sameAs(upper: string, up: Stats, lower: string, low: Stats): boolean {
  if (typeOf(up) !== typeOf(low) || (up.mode & 0o7777) !== (low.mode & 0o7777) || up.uid !== low.uid || up.gid !== low.gid) return false;
  if (up.isFile()) return up.size === low.size && readFileSync(upper).equals(readFileSync(lower));
  return true;
}

/**
 * Reads the upper layer: a whiteout (character device 0/0) is a deletion,
 * anything else an addition or a change of what the lower layer has. The
 * upper layer is walked through the helper's root; `lowerDir` is the real
 * directory, looked into only below real directories.
 */
function listChanges(upperDir: string, lowerDir: string): OverlayChange[] {
  const out: OverlayChange[] = [];
  // lowerIsDir: the lower counterpart of `rel` is a real directory, so looking below it follows no symlink out of lowerDir.
  const walk = (rel: string, lowerIsDir: boolean) => {
    for (const name of readdirSync(join(upperDir, rel)).sort()) {
      const r = posix.join(rel, name);
      const up = lstatSync(join(upperDir, r));
      const lowPath = join(lowerDir, r);
      const low = lowerIsDir ? lstatSync(lowPath, { throwIfNoEntry: false }) : undefined;
      if (up.isCharacterDevice() && up.rdev === 0) {
        if (low) out.push({ path: r, change: 'deleted', type: typeOf(low) });
        continue;
      }
      if (!low) out.push({ path: r, change: 'added', type: typeOf(up) });
      else if (!sameAs(join(upperDir, r), up, lowPath, low)) out.push({ path: r, change: 'modified', type: typeOf(up) });
      if (up.isDirectory()) walk(r, !!low?.isDirectory());
    }
  };
  walk('/', true);
  return out;
}

import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, realpathSync } from 'node:fs';
import { RdError, EXIT } from '../errors.js';
import { findProgram } from './programs.js';
import { makeWritable } from '../host/writable.js';

/** One line of /proc/self/mountinfo (proc(5)). */
export interface MountInfo {
  id: number;
  parent: number;
  majorMinor: string;
  /** Root of the mount within its filesystem. */
  fsRoot: string;
  mountPoint: string;
  options: string[];
  fsType: string;
  source: string;
  superOptions: string[];
  readOnly: boolean;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
export function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function parseMountinfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (sep < 0 || f.length < sep + 3) continue;
    const options = f[5].split(',');
    const superOptions = f[sep + 3]?.split(',') ?? [];
    out.push({
      id: Number(f[0]),
      parent: Number(f[1]),
      majorMinor: f[2],
      fsRoot: unescapeOctal(f[3]),
      mountPoint: unescapeOctal(f[4]),
      options,
      fsType: f[sep + 1],
      source: unescapeOctal(f[sep + 2]),
      superOptions,
      readOnly: options.includes('ro') || superOptions.includes('ro'),
    });
  }
  return out;
}

export function readMountinfo(file = '/proc/self/mountinfo'): MountInfo[] {
  try {
    return parseMountinfo(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new RdError(`cannot read the mount table (${(e as NodeJS.ErrnoException).code}); mount /proc first: mount -t proc proc /proc`, { file });
  }
}

/** The mount that holds `path`: the longest mount point containing it, the last one mounted there. */
export function mountOf(path: string, mounts: MountInfo[] = readMountinfo()): MountInfo | undefined {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    real = path;
  }
  let best: MountInfo | undefined;
  for (const m of mounts) {
    const mp = m.mountPoint;
    const inside = real === mp || mp === '/' || real.startsWith(mp.endsWith('/') ? mp : `${mp}/`);
    if (inside && (!best || mp.length >= best.mountPoint.length)) best = m;
  }
  return best;
}

/** Mounts whose mount point is `dir` or lies below it, innermost last. */
export function mountsUnder(dir: string, mounts: MountInfo[] = readMountinfo()): MountInfo[] {
  return mounts.filter((m) => m.mountPoint === dir || m.mountPoint.startsWith(`${dir}/`));
}

/** Runs the `mount` program (Node cannot call mount(2)); fails naming the missing program. */
export function runMount(args: string[]): void {
  const prog = findProgram('mount');
  if (!prog) throw new RdError(`no "mount" program in PATH; cannot run: mount ${args.join(' ')}`, {}, EXIT.failure);
  const r = spawnSync(prog, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) {
    // mount's first line says why ("cannot remount … read-write, is write-protected"); later ones point at dmesg
    const msg = (r.stderr || r.stdout || '').trim().split('\n')[0].trim() || `exit status ${r.status}`;
    throw new RdError(`mount ${args.join(' ')} failed: ${msg}`);
  }
}

export function runUmount(target: string, lazy = false): boolean {
  const prog = findProgram('umount');
  if (!prog) throw new RdError(`no "umount" program in PATH; ${target} stays mounted`);
  return spawnSync(prog, lazy ? ['-l', target] : [target], { stdio: 'ignore' }).status === 0;
}

/** What the ext2/3/4 superblock says about the last unmount (undefined for other filesystems). */
export interface CleanState {
  clean: boolean;
  reason?: string;
  /** The kernel recorded errors (s_state ERROR_FS, s_error_count): a write may make the damage worse. */
  errors?: string;
}

export function ext4CleanState(device: string): CleanState | undefined {
  let fd: number;
  try {
    fd = openSync(device, 'r');
  } catch {
    return undefined;
  }
  const sb = Buffer.alloc(1024);
  try {
    if (readSync(fd, sb, 0, 1024, 1024) < 1024) return undefined;
  } finally {
    closeSync(fd);
  }
  if (sb.readUInt16LE(0x38) !== 0xef53) return undefined;
  const state = sb.readUInt16LE(0x3a);
  const incompat = sb.readUInt32LE(0x60);
  const count = sb.readUInt32LE(0x194);
  if (state & 2 || count > 0) {
    const errors = `${count || 'some'} error${count === 1 ? '' : 's'} recorded in the superblock`;
    return { clean: false, reason: `the filesystem has ${errors}`, errors };
  }
  if (!(state & 1)) return { clean: false, reason: 'the filesystem was not cleanly unmounted' };
  if (incompat & 0x4) return { clean: false, reason: 'the journal needs recovery' };
  return { clean: true };
}

export interface RemountResult {
  mountPoint: string;
  device: string;
  fsType: string;
  from: 'ro' | 'rw';
  to: 'ro' | 'rw';
  changed: boolean;
  warnings: string[];
}

/** What remounting the filesystem holding `path` would do (nothing is changed). */
export function planRemount(path: string, mode: 'ro' | 'rw', mounts: MountInfo[] = readMountinfo()): RemountResult {
  const m = mountOf(path, mounts);
  if (!m) throw new RdError('no mount holds this path', { file: path });
  const from = m.readOnly ? 'ro' : 'rw';
  const warnings: string[] = [];
  if (mode === 'rw' && from === 'ro') {
    const st = m.source.startsWith('/dev/') ? ext4CleanState(m.source) : undefined;
    if (st && !st.clean) {
      warnings.push(`${m.source}: ${st.reason}; check it before writing: umount ${m.mountPoint} && fsck -f ${m.source}, then mount it again`);
    }
  }
  return { mountPoint: m.mountPoint, device: m.source, fsType: m.fsType, from, to: mode, changed: from !== mode, warnings };
}

/**
 * Refuses to change the filesystem holding `path` when its superblock
 * records errors, unless `force`; the refusal gives the exact fsck command.
 * With force: the warning to print.
 */
export function refuseRecordedErrors(path: string, force: boolean, mounts: MountInfo[] = readMountinfo()): string | undefined {
  const m = mountOf(path, mounts);
  const st = m?.source.startsWith('/dev/') ? ext4CleanState(m.source) : undefined;
  if (!m || !st?.errors) return undefined;
  const fsck = `umount ${m.mountPoint} && e2fsck -f ${m.source}`;
  if (!force) throw new RdError(`${m.source} (${m.fsType}, mounted at ${m.mountPoint}) has ${st.errors}; writing to it may make the damage worse. Check it first: ${fsck}, mount it again and re-run; or add --force to write anyway; nothing was changed`, {}, EXIT.refused);
  return `writing to ${m.source} although it has ${st.errors} (--force); check it soon: ${fsck}`;
}

/** Remounts as planned and checks the kernel agrees; returns a note when it had to do more (a disk `rdrescue mount` holds read-only). */
export function applyRemount(plan: RemountResult): string | undefined {
  if (!plan.changed) return;
  const madeWritable = plan.to === 'rw' ? makeWritable(plan.mountPoint) : undefined;
  if (madeWritable) return madeWritable;
  try {
    runMount(['-o', `remount,${plan.to}`, plan.mountPoint]);
  } catch (e) {
    const hint = plan.to === 'rw' ? ' (is the device itself read-only? check: blockdev --getro ' + plan.device + ')' : '';
    throw new RdError(`cannot remount ${plan.mountPoint} ${plan.to}: ${(e as Error).message}${hint}; nothing was changed`, {}, EXIT.failure);
  }
  const now = mountOf(plan.mountPoint);
  if (!now || (now.readOnly ? 'ro' : 'rw') !== plan.to) throw new RdError(`${plan.mountPoint} is still ${plan.from} after remount; nothing was changed`);
}

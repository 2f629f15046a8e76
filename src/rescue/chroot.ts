import { spawn } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { RdError, EXIT } from '../errors.js';
import { planFstabMounts, unmountAll } from './fstab-mounts.js';
import { readMountinfo, runMount } from './mounts.js';
import { findProgram } from './programs.js';
import { resolveInRoot } from './target.js';

/**
 * `arch-chroot` done in a rescue environment: mount the API filesystems
 * into the target, run a command there, and unmount everything in reverse
 * order whatever happens to the command (non-zero exit, killed, or our own
 * SIGINT/SIGTERM, which we forward to it).
 *
 * Node cannot call chroot(2), so something else must: the `chroot` program,
 * else busybox's applet, else `unshare --root`, else the target's own
 * `chroot` run through the target's own dynamic loader (dracut images ship
 * no chroot, but the system being rescued almost always has one). With none
 * of those we stop and say so; the mounts have not been made yet then.
 */
export interface ChrootMount {
  /** Inside the target ("/proc"). */
  target: string;
  args: string[];
  what: string;
  /** One of the target's own filesystems, from its fstab. */
  fstab?: boolean;
}

export interface ChrootPlan {
  root: string;
  command: string[];
  /** How the command enters the root: the argv prefix before `command`. */
  launcher: string[];
  launcherKind: 'chroot' | 'busybox' | 'unshare' | 'target-chroot';
  mounts: ChrootMount[];
  notes: string[];
}

export interface ChrootResult {
  exitCode: number;
  signal?: string;
  mounted: string[];
  notes: string[];
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function targetLauncher(root: string): string[] | undefined {
  const chroot = ['/usr/sbin/chroot', '/usr/bin/chroot', '/sbin/chroot', '/bin/chroot'].map((p) => resolveInRoot(root, p)).find((p) => existsSync(p));
  if (!chroot) return undefined;
  const libDirs = ['/lib64', '/usr/lib64', '/lib', '/usr/lib'].flatMap((d) => {
    const host = resolveInRoot(root, d);
    const subs = isDir(host) ? readdirSync(host).filter((n) => /-linux-gnu/.test(n)).map((n) => join(host, n)) : [];
    return [host, ...subs].filter(isDir);
  });
  for (const dir of libDirs) {
    const ld = readdirSync(dir).find((n) => /^ld-linux.*\.so\.\d$/.test(n));
    if (ld) return [join(dir, ld), '--library-path', libDirs.join(':'), chroot, root];
  }
  return undefined;
}

export type LauncherKind = ChrootPlan['launcherKind'];

function launcher(root: string, kind: LauncherKind): string[] | undefined {
  switch (kind) {
    case 'chroot': {
      const p = findProgram('chroot');
      return p ? [p, root] : undefined;
    }
    case 'busybox': {
      const p = findProgram('busybox');
      return p ? [p, 'chroot', root] : undefined;
    }
    case 'unshare': {
      const p = findProgram('unshare');
      return p ? [p, `--root=${root}`] : undefined;
    }
    case 'target-chroot':
      return targetLauncher(root);
  }
}

const LAUNCHERS: LauncherKind[] = ['chroot', 'busybox', 'unshare', 'target-chroot'];

function launcherFor(root: string, via?: LauncherKind): Pick<ChrootPlan, 'launcher' | 'launcherKind'> {
  for (const kind of via ? [via] : LAUNCHERS) {
    const l = launcher(root, kind);
    if (l) return { launcher: l, launcherKind: kind };
  }
  if (via) throw new RdError(`cannot enter ${root} via ${via}: ${via === 'target-chroot' ? 'the target has no chroot program and loader' : `no ${via} program here`}`, {}, EXIT.failure);
  throw new RdError(`cannot enter ${root}: no chroot, busybox or unshare here, and the target has no chroot program (with a loader) to borrow; Node itself cannot call chroot(2)`, {}, EXIT.failure);
}

/** The target user's login shell (root's by default) if it exists in the target, else /bin/sh. */
export function targetShell(root: string, user = 'root'): string {
  try {
    for (const line of readFileSync(resolveInRoot(root, '/etc/passwd'), 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === user && f[6] && existsSync(resolveInRoot(root, f[6]))) return f[6];
    }
  } catch {
    /* fall through */
  }
  return '/bin/sh';
}

export interface ChrootOptions {
  root: string;
  /** Command and arguments to run inside (default: the target's root shell). */
  command?: string[];
  /** Force one way of entering the root (default: the first available, in the order of LauncherKind). */
  via?: LauncherKind;
  /** Do not mount the target's own /boot, /home, ... from its fstab (only the API filesystems). */
  noFstabMounts?: boolean;
}

export function planChroot(o: ChrootOptions): ChrootPlan {
  const root = o.root;
  const notes: string[] = [];
  const table = readMountinfo();
  const mounted = new Set(table.map((m) => m.mountPoint));
  const mounts: ChrootMount[] = [];
  // the target's /boot, /home, ... first: repair work inside writes there, and /proc etc. never lie below them
  if (!o.noFstabMounts) {
    const f = planFstabMounts(root, { mounts: table });
    mounts.push(...f.mounts.map((m) => ({ ...m, fstab: true })));
    notes.push(...f.notes);
  }
  // dev/pts lives on the /dev we bind, so it exists once /dev is mounted, not before
  const add = (rel: string, args: string[], what: string, mustBeDir = true) => {
    const host = resolveInRoot(root, rel);
    // a mount point that is a symlink in the target would put the mount somewhere the target chose
    if (host !== join(root, rel)) return notes.push(`${rel} is a symbolic link in the target; not mounted`);
    if (mounted.has(host)) return notes.push(`${rel} is already mounted; left as it is`);
    if (mustBeDir && !isDir(host)) return notes.push(`the target has no ${rel} directory; not mounted`);
    mounts.push({ target: rel, args: [...args, host], what });
  };
  add('/proc', ['-t', 'proc', '-o', 'nosuid,noexec,nodev', 'proc'], 'proc');
  add('/sys', ['-t', 'sysfs', '-o', 'ro,nosuid,noexec,nodev', 'sys'], 'sysfs (read-only)');
  add('/dev', ['--bind', '/dev'], 'dev (bind)');
  if (isDir('/dev/pts') && mounts.some((m) => m.target === '/dev')) add('/dev/pts', ['--bind', '/dev/pts'], 'dev/pts (bind)', false);
  add('/run', ['--bind', '/run'], 'run (bind)');
  let resolv;
  try {
    resolv = lstatSync(join(root, 'etc/resolv.conf'));
  } catch {
    resolv = undefined;
  }
  if (resolv?.isFile() && existsSync('/etc/resolv.conf')) add('/etc/resolv.conf', ['--bind', '/etc/resolv.conf'], 'resolv.conf', false);
  else notes.push(`target /etc/resolv.conf is ${resolv ? 'a symbolic link' : 'missing'}; name resolution inside uses the target's own setup`);
  const command = o.command?.length ? o.command : [targetShell(root)];
  return { root, command, ...launcherFor(root, o.via), mounts, notes };
}

const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const;

/** Runs the plan: mounts, command, and the reverse unmount in a finally. */
export async function runChroot(plan: ChrootPlan): Promise<ChrootResult> {
  const done: ChrootMount[] = [];
  const notes = [...plan.notes];
  const handlers = new Map<string, () => void>();
  let child: ReturnType<typeof spawn> | undefined;
  try {
    for (const m of plan.mounts) {
      runMount(m.args);
      done.push(m);
    }
    const [prog, ...args] = [...plan.launcher, ...plan.command];
    child = spawn(prog, args, { stdio: 'inherit', env: { ...process.env, PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' } });
    for (const sig of FORWARDED) {
      const h = () => child?.kill(sig);
      handlers.set(sig, h);
      process.on(sig, h);
    }
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((res, rej) => {
      child!.once('error', (e) => rej(new RdError(`cannot run ${plan.command[0]} in ${plan.root}: ${e.message}`)));
      child!.once('exit', (c, s) => res([c, s]));
    });
    const exitCode = code ?? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0);
    return { exitCode, signal: signal ?? undefined, mounted: done.map((m) => m.target), notes };
  } finally {
    for (const [sig, h] of handlers) process.off(sig, h);
    unmountAll(done, notes);
  }
}

export async function withChroot(o: ChrootOptions): Promise<ChrootResult> {
  return runChroot(planChroot(o));
}

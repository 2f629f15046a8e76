import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, linkSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { RdError, EXIT } from '../errors.js';
import { findProgram } from './programs.js';
import { resolveInRoot } from './target.js';

/**
 * The shadow-utils locking protocol, so passwd/usermod/vipw in a chroot (or
 * another rdrescue) never write /etc/shadow at the same time as we do:
 *
 * 1. /etc/.pwd.lock with a POSIX record lock (fcntl F_SETLK, what glibc's
 *    lckpwdf takes). Node has no fcntl and flock(2) locks do not conflict with
 *    fcntl locks on Linux, so `flock` would lock nothing anyone else checks.
 *    We spawn a tiny holder (perl, else python3) that takes the real fcntl
 *    lock and keeps it until its stdin closes; our death, even by SIGKILL,
 *    closes that pipe and so releases the lock. A minimal initramfs may have
 *    neither interpreter: then we cannot take the lock, so we read
 *    /proc/locks and refuse if anyone holds it, and say that a tool starting
 *    in the same instant could race us (in practice nothing else runs at
 *    rd.break).
 * 2. /etc/shadow.lock, a hard link to /etc/shadow.PID holding our PID, which
 *    shadow-utils (commonio) checks with kill(PID, 0).
 */
export interface ShadowLock {
  notes: string[];
  release(): Promise<void>;
}

export interface LockOptions {
  /** Break a stale /etc/shadow.lock whose PID is not running. */
  force?: boolean;
}

// struct flock on LP64 Linux: short type, short whence, (pad), off_t start, off_t len, pid_t pid, (pad)
const PERL_HOLDER = `use Fcntl; open(my $f, '>>', $ARGV[0]) or die "open: $!\\n"; chmod 0600, $ARGV[0];
my $l = pack('s s x4 q q l x4', F_WRLCK, 0, 0, 0, 0);
if (fcntl($f, F_SETLK, $l)) { $| = 1; print "locked\\n"; my $x = <STDIN>; exit 0 }
fcntl($f, F_GETLK, $l); my @g = unpack('s s x4 q q l x4', $l); print "busy $g[4]\\n"; exit 1`;
const PYTHON_HOLDER = `import fcntl, os, sys, struct
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600)
try:
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
except OSError:
    print("busy 0", flush=True); sys.exit(1)
print("locked", flush=True); sys.stdin.read()`;
const LP64 = new Set(['x64', 'arm64', 'ppc64', 's390x', 'riscv64', 'loong64', 'mips64el']);

interface Holder {
  child: ChildProcess;
  how: string;
}

function spawnHolder(path: string): { prog: string; args: string[]; how: string } | undefined {
  const perl = LP64.has(process.arch) ? findProgram('perl') : undefined;
  if (perl) return { prog: perl, args: ['-e', PERL_HOLDER, path], how: 'perl' };
  const py = findProgram('python3');
  if (py) return { prog: py, args: ['-c', PYTHON_HOLDER, path], how: 'python3' };
  return undefined;
}

/** Takes the fcntl lock on `path` through a holder process; undefined when no holder program exists. */
async function fcntlLock(path: string): Promise<Holder | undefined> {
  const h = spawnHolder(path);
  if (!h) return undefined;
  const child = spawn(h.prog, h.args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const line = await new Promise<string>((res) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) res(out.split('\n')[0]);
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) => res(`error ${e.message}`));
    child.on('exit', () => res(out.split('\n')[0] || `error ${err.trim()}`));
  });
  if (line === 'locked') {
    child.stdout!.removeAllListeners('data');
    return { child, how: h.how };
  }
  child.kill('SIGKILL');
  if (line.startsWith('busy')) {
    const pid = Number(line.split(' ')[1]);
    throw pid > 0 ? busyError(path, pid, 'fcntl lock') : new RdError('locked by another process (fcntl lock); wait for it to finish or stop it; nothing was changed', { file: path }, EXIT.busy);
  }
  throw new RdError(`cannot take the lock: ${line.replace(/^error /, '')}`, { file: path });
}

function commOf(pid: number): string {
  try {
    return ` (${readFileSync(`/proc/${pid}/comm`, 'utf8').trim()})`;
  } catch {
    return '';
  }
}

/** Holders of POSIX locks on `path` according to /proc/locks. */
export function procLockHolders(path: string, procLocks = '/proc/locks'): number[] {
  let st;
  let text;
  try {
    st = statSync(path, { bigint: true });
    text = readFileSync(procLocks, 'utf8');
  } catch {
    return [];
  }
  const dev = st.dev;
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & 0xfff00n));
  const pids: number[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    // "1: POSIX  ADVISORY  WRITE 1234 fd:01:5678 0 EOF" (a "->" marks a waiter)
    if (f[1] !== 'POSIX' && f[1] !== 'OFDLCK') continue;
    const id = f[5]?.split(':');
    if (!id || id.length !== 3) continue;
    if (parseInt(id[0], 16) === major && parseInt(id[1], 16) === minor && BigInt(id[2]) === st.ino) pids.push(Number(f[4]));
  }
  return pids;
}

function bootTime(): number | undefined {
  try {
    const m = /^btime (\d+)/m.exec(readFileSync('/proc/stat', 'utf8'));
    return m ? Number(m[1]) * 1000 : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Who holds /etc/shadow.lock: nobody, a running process, or a process that is gone (stale). */
function inspectLinkLock(lockPath: string): { state: 'free' } | { state: 'live'; pid: number } | { state: 'stale'; why: string } {
  let pidText: string;
  let mtime: number;
  try {
    pidText = readFileSync(lockPath, 'utf8').trim();
    mtime = statSync(lockPath).mtimeMs;
  } catch {
    return { state: 'free' };
  }
  const pid = /^\d+$/.test(pidText) ? Number(pidText) : 0;
  const boot = bootTime();
  // a lock written before this boot cannot be held by any process now running, whatever its PID
  const fromEarlierBoot = boot !== undefined && mtime < boot;
  if (pid > 0 && !fromEarlierBoot && alive(pid)) return { state: 'live', pid };
  return { state: 'stale', why: pid > 0 ? `process ${pid} ${fromEarlierBoot ? 'from an earlier boot' : 'is not running'}` : 'it holds no PID' };
}

function busyError(file: string, pid: number, kind: string): RdError {
  return new RdError(`locked by running process ${pid}${commOf(pid)} (${kind}); wait for it to finish or stop it; nothing was changed`, { file }, EXIT.busy);
}

function staleError(file: string, why: string): RdError {
  return new RdError(`stale lock (${why}); re-run with --force to break it; nothing was changed`, { file }, EXIT.busy);
}

/**
 * The read-only half of the protocol, run before we remount or write
 * anything: a live holder or (without force) a stale lock stops us while
 * the target is still untouched.
 */
export function checkShadowUnlocked(root: string, opts: LockOptions = {}): void {
  const pwdLock = resolveInRoot(root, 'etc/.pwd.lock');
  const pids = procLockHolders(pwdLock).filter((p) => p !== process.pid);
  if (pids.length) throw busyError(pwdLock, pids[0], 'fcntl lock');
  const shadowLock = resolveInRoot(root, 'etc/shadow.lock');
  const st = inspectLinkLock(shadowLock);
  if (st.state === 'live') throw busyError(shadowLock, st.pid, 'shadow.lock');
  if (st.state === 'stale' && !opts.force) throw staleError(shadowLock, st.why);
}

/** Creates /etc/shadow.lock as shadow-utils does; explains a live or stale holder. */
function linkLock(lockPath: string, force: boolean, notes: string[]): void {
  const mine = `${lockPath.replace(/\.lock$/, '')}.${process.pid}`;
  writeFileSync(mine, String(process.pid), { mode: 0o600 });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(mine, lockPath);
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw e;
      }
      const st = inspectLinkLock(lockPath);
      if (st.state === 'live') throw busyError(lockPath, st.pid, 'shadow.lock');
      if (st.state === 'stale') {
        if (!force) throw staleError(lockPath, st.why);
        rmSync(lockPath, { force: true });
        notes.push(`broke the stale lock ${lockPath} (${st.why})`);
      }
    }
  } finally {
    rmSync(mine, { force: true });
  }
}

/** Locks the target's shadow database; release() undoes both locks. */
export async function lockShadow(root: string, opts: LockOptions = {}): Promise<ShadowLock> {
  const notes: string[] = [];
  const pwdLock = resolveInRoot(root, 'etc/.pwd.lock');
  const shadowLock = resolveInRoot(root, 'etc/shadow.lock');
  const holder = await fcntlLock(pwdLock);
  if (!holder) {
    closeSync(openSync(pwdLock, 'a', 0o600));
    const pids = procLockHolders(pwdLock);
    if (pids.length) throw busyError(pwdLock, pids[0], 'fcntl lock');
    notes.push(`no perl or python3 here to take the fcntl lock on ${pwdLock}; checked /proc/locks instead (no holder), so only a tool starting this very instant could race us`);
  }
  try {
    linkLock(shadowLock, opts.force === true, notes);
  } catch (e) {
    holder?.child.kill('SIGKILL');
    throw e;
  }
  return {
    notes,
    async release() {
      try {
        if (readFileSync(shadowLock, 'utf8').trim() === String(process.pid)) rmSync(shadowLock, { force: true });
      } catch {
        /* already gone */
      }
      if (holder) {
        const done = new Promise((res) => holder.child.once('exit', res));
        holder.child.stdin!.end();
        if (holder.child.exitCode === null) await done;
      }
    },
  };
}

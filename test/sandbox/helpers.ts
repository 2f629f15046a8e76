import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { BUNDLE } from '../helpers/cli.js';

export const BUSYBOX = '/bin/busybox';
const APPLETS = ['sh', 'ps', 'hostname', 'ipcs', 'ip', 'ls', 'cat', 'touch', 'sleep', 'echo', 'id', 'kill', 'ping', 'mount', 'readlink', 'true'];

/** A root with a static busybox (its own sh and ps), /proc, /sys, /dev, /tmp: the smallest tree a rescuer could boot. */
export function busyboxTree(dir: string, opts: { sh?: boolean } = {}): string {
  for (const d of ['bin', 'proc', 'sys', 'dev', 'tmp', 'etc', 'mnt']) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync(BUSYBOX, join(dir, 'bin/busybox'));
  for (const a of APPLETS) if (a !== 'sh' || opts.sh !== false) symlinkSync('busybox', join(dir, 'bin', a));
  return dir;
}

/** The calling process's mount table, one mountinfo line per mount, without the IDs that renumber. */
export function mountTable(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .trim()
    .split('\n')
    .sort();
}

/**
 * Mount lines that differ between two snapshots. Other helpers' tests run at
 * the same time on this machine and mount loop devices under their own
 * temporary directories; those (and only those) are left out.
 */
export function mountChanges(before: string[], after: string[], ownDirs: string[]): string[] {
  const foreign = (line: string) => {
    const mp = line.split(' ')[4];
    return (mp.startsWith('/tmp/') || mp.includes('/.tap/')) && !ownDirs.some((d) => mp === d || mp.startsWith(`${d}/`));
  };
  const a = new Set(after);
  const b = new Set(before);
  return [...before.filter((l) => !a.has(l)).map((l) => `- ${l}`), ...after.filter((l) => !b.has(l)).map((l) => `+ ${l}`)].filter((l) => !foreign(l.slice(2)));
}

/** Host processes whose command line contains `marker` (the sandbox's processes are host processes too). */
export function processesWith(marker: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes(marker)) out.push(Number(p));
    } catch {
      /* exited */
    }
  }
  return out;
}

export function hostLinks(): string[] {
  return readdirSync('/sys/class/net');
}

export interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `rdrescue sandbox ...` and resolves once the sandboxed command printed `ready` on stdout. */
export async function startSandbox(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Running> {
  const child = spawn(process.execPath, [BUNDLE, 'sandbox', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('ready\n')) resolve();
    });
    exited.then(({ code }) => reject(new Error(`sandbox exited (${code}) before it was ready: ${err}`)));
  });
  return { child, stdout: () => out, stderr: () => err, exited };
}

export async function waitFor(cond: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

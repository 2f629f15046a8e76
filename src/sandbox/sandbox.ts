import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import { isatty } from 'node:tty';
import { constants as osConstants } from 'node:os';
import { readFileSync, readlinkSync, statSync } from 'node:fs';
import { RdError, EXIT } from '../errors.js';
import { RootFs } from '../elf/rootfs.js';
import { findProgram } from '../rescue/programs.js';
import { findCommand, parseBind, pickScratch, planBind, planMountPoints, SANDBOX_PATH, type BindRequest } from './plan.js';
import { STAGE_SCRIPT } from './stage.js';
import { planVeth, removeVeth, type VethPlan } from './veth.js';
import { withExtractedImage } from './image-tree.js';
import { onTerminatingSignal } from './signals.js';

export interface SandboxOptions {
  /** Command and arguments, looked up inside the tree (default /bin/sh). */
  command?: string[];
  hostname?: string;
  net?: 'none' | 'veth';
  /** Host paths bound into the tree (read-only unless rw). */
  binds?: Array<BindRequest | string>;
  /** Write through to the directory itself. Default: read-only view. */
  rw?: boolean;
  /** Writable view whose changes are discarded (overlay with a throw-away upper layer). */
  overlay?: boolean;
  /** Run in a user namespace mapping the caller to root (default: when not root). */
  userns?: boolean;
  onWarning?: (message: string) => void;
  /** Told once the sandbox runs (veth addresses when --net veth). */
  onStart?: (info: { pid: number; veth?: VethPlan }) => void;
}

export interface SandboxResult {
  /** The command's exit status, or 128 + signal number when it was killed. */
  exitCode: number;
  signal?: NodeJS.Signals;
}

export const DEFAULT_HOSTNAME = 'rdrescue-sandbox';

/**
 * Capabilities the command never gets, because what they touch is not
 * namespaced: the host's kernel modules, raw I/O ports and memory, reboot,
 * the clock, the kernel log, security policy. An initramfs's udev or
 * modprobe must not load modules into the rescuer's kernel. (As root the
 * sandbox guards against accidents, not a hostile program: use --userns.)
 */
export const DROPPED_CAPS = ['sys_module', 'sys_rawio', 'sys_boot', 'sys_time', 'syslog', 'mac_admin', 'mac_override', 'wake_alarm', 'block_suspend'];

/** How long a command that catches or ignores SIGTERM/SIGHUP/SIGQUIT has before SIGKILL. */
const GRACE_MS = 5000;

/**
 * Runs a command inside new PID, mount, UTS, IPC and network namespaces
 * (plus a user namespace when not root), rooted at an image's merged tree or
 * at a directory. The directory is seen read-only (or through a discarded
 * overlay) unless `rw`. Nothing is mounted in the host's namespace.
 */
export async function runSandbox(target: string, opts: SandboxOptions = {}): Promise<SandboxResult> {
  // Option mistakes are reported before an image is extracted.
  validHostname(opts.hostname ?? DEFAULT_HOSTNAME);
  if (opts.net === 'veth' && usesUserns(opts)) throw new RdError('--net veth needs root: an unprivileged user cannot add interfaces to the host', {}, EXIT.refused);
  const st = statSync(target, { throwIfNoEntry: false });
  if (!st) throw new RdError('no such file or directory', { file: target }, EXIT.usage);
  if (st.isDirectory()) return runTree(target, opts);
  if (!st.isFile()) throw new RdError('not an image file or a directory', { file: target }, EXIT.usage);
  return withExtractedImage(target, (dir) => runTree(dir, opts, target), opts.onWarning);
}

function validHostname(name: string): string {
  if (!/^[A-Za-z0-9]([A-Za-z0-9.-]{0,62})$/.test(name)) throw new RdError(`--hostname must be 1-64 letters, digits, dots or dashes, got ${JSON.stringify(name)}`, {}, EXIT.usage);
  return name;
}

function usesUserns(opts: SandboxOptions): boolean {
  return opts.userns ?? process.getuid?.() !== 0;
}

function need(name: string, pkg: string): string {
  const p = findProgram(name);
  if (!p) throw new RdError(`the sandbox needs the "${name}" program (${pkg})`);
  return p;
}

async function runTree(dir: string, opts: SandboxOptions, shownAs: string = dir): Promise<SandboxResult> {
  const root = new RootFs(dir);
  const mode = opts.rw ? 'rw' : opts.overlay ? 'overlay' : 'ro';
  const command = opts.command?.length ? opts.command : ['/bin/sh'];
  findCommand(root, command[0], shownAs);
  const binds = (opts.binds ?? []).map((b) => planBind(root, typeof b === 'string' ? parseBind(b) : b));
  const points = planMountPoints(root, mode === 'ro');
  const hostname = validHostname(opts.hostname ?? DEFAULT_HOSTNAME);
  const userns = usesUserns(opts);
  const veth = opts.net === 'veth' ? planVeth() : undefined;
  // isatty, not process.stdin.isTTY: creating process.stdin would set O_NONBLOCK on the terminal the sandbox shell reads.
  const tty = isatty(0) ? readlinkSync('/proc/self/fd/0') : undefined;
  const scratch = pickScratch([root.dir, ...binds.map((b) => b.src), ...(tty ? [tty] : [])]);
  const setpriv = need('setpriv', 'util-linux');
  const unshare = need('unshare', 'util-linux');
  need('chroot', 'coreutils');
  need('hostname', 'hostname');
  if (veth) need('nsenter', 'util-linux');

  const env: Record<string, string> = {
    PATH: process.env.PATH || SANDBOX_PATH,
    RDS_SCRATCH: scratch,
    RDS_DIR: root.dir,
    RDS_MODE: mode,
    RDS_PROC: points.proc,
    RDS_SYS: points.sys,
    RDS_DEV: points.dev,
    RDS_TMP: points.tmp ?? '',
    RDS_RUN: points.run ?? '',
    RDS_HOSTNAME: hostname,
    RDS_PATH: SANDBOX_PATH,
    RDS_DROP_CAPS: DROPPED_CAPS.map((c) => `-${c}`).join(','),
    RDS_TERM: process.env.TERM ?? '',
    RDS_HOST_PID: String(process.pid),
    RDS_VETH: veth?.hostIf ?? '',
    RDS_VETH_HOST_ADDR: veth?.hostAddr ?? '',
    RDS_VETH_SANDBOX_ADDR: veth?.sandboxAddr ?? '',
    RDS_VETH_PEER: veth ? veth.hostAddr.split('/')[0] : '',
  };
  const nsArgs = ['--pid', '--mount', '--uts', '--ipc', '--net', '--propagation', 'private', ...(userns ? ['--map-root-user'] : [])];
  const stageArgs = [String(binds.length), ...binds.flatMap((b) => [b.kind, b.src, b.dst]), ...command];
  // setpriv --pdeathsig: if rdrescue itself is SIGKILLed, the stage dies, and PID 1 (same setting towards the stage) with it.
  const child = spawn(setpriv, ['--pdeathsig', 'KILL', '--', unshare, ...nsArgs, '--', '/bin/sh', '-c', STAGE_SCRIPT, 'rdrescue-sandbox', ...stageArgs], {
    env,
    stdio: ['inherit', 'inherit', 'inherit', 'pipe', 'ignore', 'pipe'],
  });
  const go = (child.stdio as unknown as Array<Writable | null>)[5]!;
  go.on('error', () => undefined); // PID 1 gone before the go: the exit status tells
  let status = '';
  let init: number | undefined;
  let started = false;
  child.stdio[3]!.on('data', (d: Buffer) => {
    status += d.toString('utf8');
    const done = /^setup-done (\d+)$/m.exec(status);
    if (done && init === undefined) {
      init = Number(done[1]);
      go.end('go\n');
    }
    if (!started && /^started$/m.test(status)) {
      started = true;
      opts.onStart?.({ pid: init!, veth });
    }
  });
  let forwarded: NodeJS.Signals | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  // The kernel shields a namespace's PID 1 from every signal it has no handler for, so a command such as
  // sleep would outlive Ctrl-C. Such a signal is carried out for it (SIGKILL, reported as the signal);
  // a handled or ignored one is forwarded, and SIGTERM/SIGHUP/SIGQUIT are enforced after a grace period.
  const release = onTerminatingSignal((sig) => {
    if (init === undefined) return;
    const pid = init;
    const how = disposition(pid, sig);
    if (how === undefined) return; // already gone
    try {
      if (how === 'default') {
        forwarded = sig;
        process.kill(pid, 'SIGKILL');
        return;
      }
      process.kill(pid, sig);
    } catch {
      return;
    }
    if (sig !== 'SIGINT' && !killTimer) {
      forwarded = sig;
      killTimer = setTimeout(() => {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* exited meanwhile */
        }
      }, GRACE_MS);
    }
  });
  try {
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (c, s) => resolve([c, s]));
    });
    if (!started && signal === null) {
      const why = status.split('\n').filter((l) => l && !/^setup-done /.test(l)).pop() ?? `unshare exited with status ${code}`;
      throw new RdError(`sandbox setup failed: ${why}`, { file: shownAs });
    }
    if (signal !== null) return { exitCode: 128 + (osConstants.signals[signal] ?? 0), signal };
    // The stage reports a killed command as 128+N; one we killed after the grace period counts as the signal we were sent.
    if (forwarded && code === 128 + osConstants.signals.SIGKILL) return { exitCode: 128 + osConstants.signals[forwarded], signal: forwarded };
    return { exitCode: code ?? EXIT.failure };
  } finally {
    clearTimeout(killTimer);
    release();
    if (veth) removeVeth(veth.hostIf);
  }
}

/** What the process does with `sig`, from /proc/PID/status (undefined when it is gone). */
function disposition(pid: number, sig: NodeJS.Signals): 'handler' | 'ignored' | 'default' | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const bit = 1n << BigInt(osConstants.signals[sig] - 1);
  const mask = (name: string) => BigInt(`0x${new RegExp(`^${name}:\\s*([0-9a-f]+)$`, 'm').exec(status)?.[1] ?? '0'}`);
  if (mask('SigCgt') & bit) return 'handler';
  if (mask('SigIgn') & bit) return 'ignored';
  return 'default';
}

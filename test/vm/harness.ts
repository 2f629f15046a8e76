// What every VM scenario shares: the TAP-style tally, the timings table, the
// environment the runner built once (kernel, disks, images, executable), and
// the oracles that read a disk from outside.
import { spawnSync } from 'node:child_process';
import type { Accel } from './kernel.js';
import { Vm } from './vm.js';

let passed = 0;
let failed = 0;
export const timings: Array<[string, string]> = [];

export function check(name: string, ok: boolean, detail = ''): void {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? 'ok' : 'not ok'} - ${name}${!ok && detail ? `\n    ${detail.replace(/\n/g, '\n    ')}` : ''}`);
}

export function tally(): { passed: number; failed: number } {
  return { passed, failed };
}

/** Everything the runner prepares once, shared by all scenarios. */
export interface VmEnv {
  accel: Accel;
  kver: string;
  /** The cache key of this kernel: scenarios name their own cached artefacts with it. */
  key: string;
  vmlinux: string;
  /** The locked-out server's ext4 root disk (scenarios copy it, never change it). */
  baseDisk: string;
  /** This run's scratch directory. */
  work: string;
  /** A private copy of the single executable. */
  sea: string;
  images: { dracut: string; dracutSystemd: string; initramfsTools: string };
}

/** A named piece of the VM test; RDRESCUE_VM_ONLY=text runs only those whose name contains it. */
export type Scenario = [name: string, run: (env: VmEnv) => Promise<void>];

/** The system's own crypt (libxcrypt through perl): the oracle for "the password works". */
export function cryptVerifies(password: string, hash: string): boolean {
  return spawnSync('perl', ['-e', 'exit(crypt($ARGV[0], $ARGV[1]) eq $ARGV[1] ? 0 : 1)', password, hash]).status === 0;
}

export function debugfs(disk: string, request: string): { out: string; err: string } {
  const r = spawnSync('debugfs', ['-R', request, disk], { encoding: 'utf8' });
  return { out: r.stdout, err: r.stderr };
}

/** The next normal boot's init: it must get past the mount that used to fail, and see this shadow. */
export async function normalBoot(name: string, env: Pick<VmEnv, 'accel' | 'vmlinux'>, initrd: string, disk: string, append: string, log: string, memory?: string): Promise<{ mountRc: number; shadowSha: string; console: string }> {
  const vm = new Vm({ name, accel: env.accel, vmlinux: env.vmlinux, initrd, disk, append, log, memory });
  try {
    await vm.boot();
    await vm.expect(/@@INIT-REACHED@@/, 240_000, 'the real /sbin/init');
    const sha = await vm.expect(/@@SHADOW-SHA256=([0-9a-f]{64})@@/, 60_000, 'the shadow hash from init');
    const rc = await vm.expect(/@@MOUNT-A-RC=(\d+)@@/, 60_000, 'mount -a in init');
    await vm.exit(60_000);
    return { mountRc: Number(rc[1]), shadowSha: sha[1], console: vm.transcript() };
  } finally {
    await vm.kill();
  }
}

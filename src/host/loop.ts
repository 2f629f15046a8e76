import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { RdError } from '../errors.js';
import { findProgram } from '../rescue/programs.js';

/**
 * Loop devices over a range of a file or disk. Read-only ones are how
 * `mount` keeps its promise to write nothing: XFS writes its log even on a
 * read-only mount of a writable device, a read-only block device stops it.
 */
export interface LoopSpec {
  /** The backing file or device. */
  path: string;
  offset: number;
  size: number;
  readOnly: boolean;
}

function losetup(args: string[]): string {
  const prog = findProgram('losetup');
  if (!prog) throw new RdError(`no "losetup" program in PATH; cannot attach: losetup ${args.join(' ')}`);
  const r = spawnSync(prog, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new RdError(`losetup ${args.join(' ')} failed: ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
  return r.stdout.trim();
}

/** Attaches a new loop device and returns its node (/dev/loopN). */
export function attachLoop(s: LoopSpec): string {
  return losetup(['--find', '--show', ...(s.readOnly ? ['--read-only'] : []), '--offset', String(s.offset), '--sizelimit', String(s.size), s.path]);
}

function sysLoop(device: string, field: string): string | undefined {
  try {
    return readFileSync(`/sys/block/${device.replace(/^\/dev\//, '')}/loop/${field}`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * Whether `device` is still the loop we attached: after a crash the number
 * may have been given to someone else's file, which we must not detach.
 */
export function isOurLoop(device: string, s: LoopSpec, backingPath: string): boolean {
  return sysLoop(device, 'backing_file') === backingPath && Number(sysLoop(device, 'offset')) === s.offset;
}

export function detachLoop(device: string): void {
  losetup(['--detach', device]);
}

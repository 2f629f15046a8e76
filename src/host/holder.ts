import { spawnSync } from 'node:child_process';
import { mkdirSync, realpathSync, rmdirSync, statSync } from 'node:fs';
import { RdError } from '../errors.js';
import { readMountinfo, runMount, runUmount } from '../rescue/mounts.js';
import { findProgram } from '../rescue/programs.js';
import { closeLuks } from './luks.js';
import { attachLoop, detachLoop, isOurLoop, type LoopSpec } from './loop.js';
import { saveRecord, type HeldMount, type Step } from './record.js';

/**
 * The one setup/teardown pair of `mount` and `umount`: every loop, mount
 * and directory is made through a Holder, which records it under /run
 * first, and release() undoes a record in reverse, whoever made it and
 * however that rdrescue ended.
 */
export class Holder {
  constructor(readonly record: HeldMount) {}

  private push(step: Step): void {
    this.record.steps.push(step);
    saveRecord(this.record);
  }

  attach(spec: LoopSpec, carrier = false): string {
    const device = attachLoop(spec);
    // sysfs names the backing file by its real path (/dev/dm-0 for /dev/mapper/NAME)
    this.push({ kind: 'loop', device, spec, backingPath: realpathSync(spec.path), ...(carrier ? { carrier } : {}) });
    return device;
  }

  /** Recorded before cryptsetup runs: a kill right after still gets the mapping closed. */
  recordLuks(name: string): void {
    this.push({ kind: 'luks', name });
  }

  /** Creates `path` (and records it, to remove it again) when it does not exist. */
  mkdir(path: string): void {
    try {
      if (statSync(path).isDirectory()) return;
    } catch {
      /* created below */
    }
    this.push({ kind: 'dir', path });
    mkdirSync(path, { recursive: true });
  }

  mount(device: string, target: string, fsType: string, options: string[], what: string): void {
    const step: Step = { kind: 'mount', target, device, fsType, options, what };
    this.push(step);
    try {
      runMount(['-t', fsType, ...(options.length ? ['-o', options.join(',')] : []), device, target]);
    } catch (e) {
      this.record.steps.pop();
      saveRecord(this.record);
      throw e;
    }
  }

  /**
   * Drops `steps` from the record; with `undo`, undoes them first (a trial
   * mount not taken). Without, they are already gone (a trial mount moved
   * away, its directory removed here).
   */
  forget(steps: Step[], undoFirst = false): void {
    if (undoFirst) undo(steps);
    else for (const s of steps) if (s.kind === 'dir') rmdirSync(s.path);
    this.record.steps = this.record.steps.filter((x) => !steps.includes(x));
    saveRecord(this.record);
  }

  /** Undoes the steps after `keep` (a probe mount, a candidate root that was not taken). */
  rollback(keep: number): string[] {
    const undone = this.record.steps.splice(keep);
    const notes = undo(undone);
    saveRecord(this.record);
    return notes;
  }
}

function isMounted(target: string): boolean {
  return readMountinfo().some((m) => m.mountPoint === target);
}

/**
 * Undoes steps in reverse, going on past failures, and returns what could
 * not be undone (empty when everything is released).
 */
export function undo(steps: Step[], opts: { sync?: boolean } = {}): string[] {
  const left: string[] = [];
  // a read-only trial mount has nothing to flush; a system-wide sync can take seconds on a busy host
  const sync = opts.sync ? findProgram('sync') : undefined;
  if (sync) spawnSync(sync, [], { stdio: 'ignore' });
  for (const s of [...steps].reverse()) {
    switch (s.kind) {
      case 'mount':
        if (isMounted(s.target) && !runUmount(s.target)) left.push(`${s.target} is busy (a shell or program is using it; fuser -vm ${s.target}) and stays mounted`);
        break;
      case 'dir':
        try {
          rmdirSync(s.path);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') left.push(`${s.path} was not removed (${(e as NodeJS.ErrnoException).code})`);
        }
        break;
      case 'luks': {
        const failed = closeLuks(s.name);
        if (failed) left.push(failed);
        break;
      }
      case 'loop':
        if (!isOurLoop(s.device, s.spec, s.backingPath)) break;
        try {
          detachLoop(s.device);
        } catch (e) {
          left.push((e as RdError).message);
        }
        break;
    }
  }
  return left;
}

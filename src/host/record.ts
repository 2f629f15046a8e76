import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { LoopSpec } from './loop.js';

/**
 * What `rdrescue mount` has done, step by step, in a file under /run: each
 * step is recorded before (a mount, a directory) or as soon as (a loop) it
 * is made, so `rdrescue umount` can undo everything in reverse even after
 * the mounting rdrescue was killed halfway. /run is a tmpfs: after a reboot
 * nothing is held and the record is gone with it.
 */
export type Step =
  | { kind: 'loop'; device: string; spec: LoopSpec; backingPath: string; /** carries a container (LUKS): stays as it is when the disk is made writable */ carrier?: boolean }
  | { kind: 'luks'; name: string }
  | { kind: 'mount'; target: string; device: string; fsType: string; options: string[]; /** what fstab calls it, for people */ what: string }
  | { kind: 'dir'; path: string };

export interface HeldMount {
  /** Where the target root is mounted. */
  at: string;
  /** What was given to `mount` (an image, a disk, a partition). */
  source: string;
  readOnly: boolean;
  pid: number;
  started: string;
  /** os-release PRETTY_NAME of the root found. */
  osName?: string;
  /** True once every step is done; false means the mounting rdrescue stopped halfway. */
  complete: boolean;
  steps: Step[];
  /** What the user should know: skipped fstab entries, dirty filesystems. */
  notes: string[];
}

export const RECORD_DIR = '/run/rdrescue/mounts';

function fileFor(at: string): string {
  return join(RECORD_DIR, `${createHash('sha256').update(at).digest('hex').slice(0, 16)}.json`);
}

/** Writes the record whole and renames it into place, so a kill never leaves half a record. */
export function saveRecord(r: HeldMount): void {
  mkdirSync(RECORD_DIR, { recursive: true, mode: 0o700 });
  const f = fileFor(r.at);
  writeFileSync(`${f}.tmp`, JSON.stringify(r, null, 2) + '\n', { mode: 0o600 });
  renameSync(`${f}.tmp`, f);
}

export function removeRecord(at: string): void {
  rmSync(fileFor(at), { force: true });
}

export function readRecords(): HeldMount[] {
  let names: string[];
  try {
    names = readdirSync(RECORD_DIR);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith('.json'))
    .flatMap((n) => {
      try {
        return [JSON.parse(readFileSync(join(RECORD_DIR, n), 'utf8')) as HeldMount];
      } catch {
        return [];
      }
    });
}

/** The held mount whose root, or one of whose mounts, is `path`. */
export function recordHolding(path: string): HeldMount | undefined {
  return readRecords().find((r) => r.at === path || r.steps.some((s) => s.kind === 'mount' && s.target === path));
}

/** What `env` says about a root `rdrescue mount` made: the disk and each filesystem mounted from it. */
export interface RescueHostFacts {
  source: string;
  at: string;
  readOnly: boolean;
  mounts: Array<{ mountPoint: string; device: string; fsType: string; options: string[] }>;
}

export function rescueHostFacts(root: string): RescueHostFacts | undefined {
  const r = readRecords().find((x) => x.at === root);
  if (!r) return undefined;
  return { source: r.source, at: r.at, readOnly: r.readOnly, mounts: r.steps.flatMap((s) => (s.kind === 'mount' ? [{ mountPoint: s.what, device: s.device, fsType: s.fsType, options: s.options }] : [])) };
}

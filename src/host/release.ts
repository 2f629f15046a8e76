import { resolve } from 'node:path';
import { RdError, EXIT } from '../errors.js';
import { undo } from './holder.js';
import { readRecords, removeRecord, saveRecord, type HeldMount } from './record.js';

/**
 * `rdrescue umount`: undo a record in reverse (sync, unmount, detach),
 * also one left by an rdrescue that was killed while mounting. What stays
 * held (a busy mount) keeps its record, so a second umount can finish.
 */
export interface ReleaseResult {
  at: string;
  source: string;
  released: string[];
  left: string[];
}

/** The held mount at `at`, or the only one when `at` is not given. */
export function heldMount(at?: string): HeldMount {
  const records = readRecords();
  if (at !== undefined) {
    const want = resolve(at);
    const r = records.find((x) => x.at === want);
    if (!r) throw new RdError(`rdrescue holds nothing mounted there${records.length ? ` (it holds: ${records.map((x) => x.at).join(', ')})` : ''}`, { file: want }, EXIT.failure);
    return r;
  }
  if (records.length === 1) return records[0];
  if (!records.length) throw new RdError('rdrescue holds nothing mounted (rdrescue mount --list)', {}, EXIT.failure);
  throw new RdError(`rdrescue holds ${records.length} mounts; name one: ${records.map((x) => x.at).join(', ')}`, {}, EXIT.usage);
}

export function releaseDisk(at?: string): ReleaseResult {
  const r = heldMount(at);
  const released = r.steps.flatMap((s) => (s.kind === 'mount' ? [s.target] : s.kind === 'loop' ? [s.device] : [])).reverse();
  const left = undo(r.steps, { sync: !r.readOnly });
  if (left.length) {
    // keep only what is still held, so the next umount retries just that
    r.steps = r.steps.filter((s) => s.kind !== 'mount' || left.some((l) => l.startsWith(`${s.target} `)));
    saveRecord(r);
    throw new RdError(`${left.join('; ')}; run rdrescue umount ${r.at} again when it is free`, {}, EXIT.failure);
  }
  removeRecord(r.at);
  return { at: r.at, source: r.source, released, left };
}

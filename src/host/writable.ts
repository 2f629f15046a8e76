import { RdError, EXIT } from '../errors.js';
import { Holder, undo } from './holder.js';
import { holdersElsewhere } from './namespace-holders.js';
import { recordHolding, saveRecord, type HeldMount } from './record.js';

/**
 * A root `rdrescue mount` left read-only sits on read-only loop devices,
 * which no remount can make writable. So a fixing command (passwd, unlock,
 * fstab, run, relabel, remount rw) takes everything down and puts it back
 * on writable loops with the same options minus the journal skips: the
 * journals are replayed at that moment, as the user was told at mount.
 */
const SKIP_REPLAY = new Set(['ro', 'norecovery', 'noload', 'rescue=nologreplay']);

/** What is taken down and put back: mounts and the loops they sit on, not directories, LUKS mappings or the loops carrying them. */
function reattached(s: HeldMount['steps'][number]): boolean {
  return s.kind === 'mount' || (s.kind === 'loop' && !s.carrier);
}

/** Makes the disk under `path` writable when rdrescue mounted it read-only; returns what it says to the user, or undefined when `path` is not such a mount. */
export function makeWritable(path: string): string | undefined {
  const r = recordHolding(path);
  if (!r || !r.readOnly) return undefined;
  if (!r.complete) throw new RdError(`the rdrescue mount on ${r.at} did not finish (was it killed?); rdrescue umount ${r.at}, then mount again`, {}, EXIT.refused);
  const old = r.steps;
  const left = undo(old.filter(reattached), { sync: true });
  if (left.length) throw new RdError(`cannot make ${r.at} writable: ${left.join('; ')}`, {}, EXIT.failure);
  remountAll(r, old);
  return `made ${r.source} writable for this change: its filesystems were mounted again read-write (journals replayed)`;
}

function remountAll(r: HeldMount, old: HeldMount['steps']): void {
  r.steps = [];
  r.readOnly = false;
  saveRecord(r);
  const h = new Holder(r);
  const renamed = new Map<string, string>();
  for (const s of old) {
    if (!reattached(s)) h.record.steps.push(s);
    else if (s.kind === 'loop') renamed.set(s.device, h.attach({ ...s.spec, readOnly: false }));
    else if (s.kind === 'mount') mountAgain(() => h.mount(renamed.get(s.device) ?? s.device, s.target, s.fsType, s.options.filter((o) => !SKIP_REPLAY.has(o)), s.what), s.fsType, s.device);
  }
  saveRecord(r);
}

/** How long a read-write XFS mount waits for the read-only instance of the same filesystem to end. */
const XFS_GONE_MS = 10_000;
/** How long a filesystem that nothing holds any more is given to be released. */
const FREED_MS = 1_000;

/**
 * The read-only mount was unmounted, but a mount namespace made meanwhile (a
 * service with PrivateTmp or PrivateMounts, an unshare) holds a copy of it,
 * and the filesystem lives on until that namespace ends: XFS then refuses
 * the same UUID again ("duplicate UUID"; mount(8) says only "wrong fs type").
 * A namespace that ends soon (a short-lived process) is waited for; one that
 * does not gives the error, naming the process. Any other failure is told
 * within a second: nothing holds the old device, so waiting would not help.
 */
function mountAgain(mount: () => void, fsType: string, oldDevice: string): void {
  if (fsType !== 'xfs') return mount();
  const until = Date.now() + XFS_GONE_MS;
  let freeSince: number | undefined;
  for (;;) {
    try {
      return mount();
    } catch (e) {
      const holders = holdersElsewhere(oldDevice);
      if (!holders.length) {
        // The last holder may have ended just now, its filesystem not yet released: a short grace, then the error.
        freeSince ??= Date.now();
        if (Date.now() - freeSince >= FREED_MS) throw e;
      } else if (Date.now() >= until) {
        const who = holders.map((h) => `PID ${h.pid} (${h.command})`).join(', ');
        throw new RdError(
          `${(e as Error).message.replace(/\.$/, '')}; the read-only XFS is still mounted in the mount namespace of ${who}, which was made while it was mounted, and XFS refuses a second instance of it. End ${holders.length > 1 ? 'those processes' : 'that process'}, then run the fix again`,
          {},
          EXIT.failure,
        );
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
    }
  }
}

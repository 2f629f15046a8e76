import { existsSync, readdirSync, statSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { RdError, EXIT } from '../errors.js';

/** Names distributions give the running kernel's initramfs (Debian/Ubuntu, Fedora/RHEL/dracut, SUSE, Arch). */
export function candidateImages(kver: string, boot = '/boot'): string[] {
  return [
    `initrd.img-${kver}`,
    `initramfs-${kver}.img`,
    `initrd-${kver}`,
    `initrd-${kver}.img`,
    `initramfs-linux.img`,
    `initrd.img`,
    `initrd`,
  ].map((n) => join(boot, n));
}

/**
 * The image the running kernel booted from, else the newest one in /boot
 * (containers and rescue systems run a kernel that /boot does not hold), else
 * undefined. `note` says when the fallback was taken.
 */
export function findDefaultImage(boot = '/boot'): { path: string; note?: string } | undefined {
  const kver = release();
  for (const p of candidateImages(kver, boot)) if (existsSync(p)) return { path: p };
  let newest: { path: string; mtime: number } | undefined;
  let names: string[] = [];
  try {
    names = readdirSync(boot);
  } catch {
    // no /boot at all: no image
  }
  for (const n of names) {
    if (!/^(initrd|initramfs)/.test(n) || n.endsWith('.old') || n.includes('fallback')) continue;
    const p = join(boot, n);
    const st = statSync(p, { throwIfNoEntry: false }); // a dangling link is no image
    if (st?.isFile() && (!newest || st.mtimeMs > newest.mtime)) newest = { path: p, mtime: st.mtimeMs };
  }
  if (newest) return { path: newest.path, note: `no image for the running kernel ${kver}; using the newest in ${boot}: ${newest.path}` };
  return undefined;
}

/** findDefaultImage, or an error that lists where it looked. */
export function defaultImage(boot = '/boot'): { path: string; note?: string } {
  const found = findDefaultImage(boot);
  if (found) return found;
  const kver = release();
  throw new RdError(`no initramfs found for the running kernel ${kver}; looked for ${candidateImages(kver, boot).join(', ')} (give IMAGE explicitly)`, {}, EXIT.badInput);
}

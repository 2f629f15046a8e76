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
 * (containers and rescue systems run a kernel that /boot does not hold).
 * `note` says when the fallback was taken.
 */
export function defaultImage(boot = '/boot'): { path: string; note?: string } {
  const kver = release();
  const tried = candidateImages(kver, boot);
  for (const p of tried) if (existsSync(p)) return { path: p };
  let newest: { path: string; mtime: number } | undefined;
  let names: string[] = [];
  try {
    names = readdirSync(boot);
  } catch {
    // no /boot at all: reported below with the list of places tried
  }
  for (const n of names) {
    if (!/^(initrd|initramfs)/.test(n) || n.endsWith('.old') || n.includes('fallback')) continue;
    const p = join(boot, n);
    const st = statSync(p);
    if (st.isFile() && (!newest || st.mtimeMs > newest.mtime)) newest = { path: p, mtime: st.mtimeMs };
  }
  if (newest) return { path: newest.path, note: `no image for the running kernel ${kver}; using the newest in ${boot}: ${newest.path}` };
  throw new RdError(`no initramfs found for the running kernel ${kver}; looked for ${tried.join(', ')} (give IMAGE explicitly)`, {}, EXIT.badInput);
}

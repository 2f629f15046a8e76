import { existsSync, readdirSync, statSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { RdError, EXIT } from '../errors.js';
import { readPe } from './pe.js';
import { isUki, sectionText } from './uki.js';

/** Where UKIs live (the ESP mounted at /boot/efi, /efi or /boot): the Boot Loader Specification's type #2 entries. */
export const UKI_DIRS = ['/boot/efi/EFI/Linux', '/efi/EFI/Linux', '/boot/EFI/Linux'];

/** The UKI whose .uname is the running kernel's release (by file name when it has no .uname). */
export function runningKernelUki(kver: string, dirs = UKI_DIRS): string | undefined {
  for (const d of dirs) {
    let names: string[];
    try {
      names = readdirSync(d).filter((n) => n.toLowerCase().endsWith('.efi')).sort();
    } catch {
      continue;
    }
    for (const n of names) {
      const p = join(d, n);
      try {
        const pe = readPe(p);
        if (!isUki(pe)) continue;
        const un = pe.sections.find((s) => s.name === '.uname');
        if (un ? sectionText(p, un).trim() === kver : n.includes(kver)) return p;
      } catch {
        // an unreadable or damaged .efi is not the running kernel's UKI; the others are still looked at
      }
    }
  }
  return undefined;
}

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
 * The image the running kernel booted from (its initramfs in /boot, else its
 * UKI in the ESP), else the newest initramfs in /boot (containers and rescue
 * systems run a kernel that /boot does not hold), else undefined. `note`
 * says when the fallback was taken.
 */
export function findDefaultImage(boot = '/boot', ukiDirs = UKI_DIRS): { path: string; note?: string } | undefined {
  const kver = release();
  for (const p of candidateImages(kver, boot)) if (existsSync(p)) return { path: p };
  const uki = runningKernelUki(kver, ukiDirs);
  if (uki) return { path: uki };
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
export function defaultImage(boot = '/boot', ukiDirs = UKI_DIRS): { path: string; note?: string } {
  const found = findDefaultImage(boot, ukiDirs);
  if (found) return found;
  const kver = release();
  const tried = [...candidateImages(kver, boot), ...ukiDirs.map((d) => `${d}/*.efi`)];
  throw new RdError(`no initramfs found for the running kernel ${kver}; looked for ${tried.join(', ')} (give IMAGE explicitly)`, {}, EXIT.badInput);
}

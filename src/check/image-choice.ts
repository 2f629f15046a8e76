import { readdirSync, readFileSync, statSync } from 'node:fs';
import { release } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { candidateImages, runningKernelUki, UKI_DIRS } from '../image/default-image.js';
import { RdError, EXIT } from '../errors.js';
import { resolveInRoot } from '../rescue/target.js';
import { versionFromImageName } from './kernel.js';

/** The image to check and the rule that chose it, said in the output. */
export interface ImageChoice {
  path: string;
  rule: string;
}

/** Compares kernel versions as GRUB's version_sort does: runs of digits as numbers. */
export function compareVersions(a: string, b: string): number {
  const x = a.match(/\d+|\D+/g) ?? [];
  const y = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] === y[i]) continue;
    const nx = /^\d/.test(x[i]) && /^\d/.test(y[i]) ? Number(x[i]) - Number(y[i]) : 0;
    return nx !== 0 ? Math.sign(nx) : x[i] < y[i] ? -1 : 1;
  }
  return x.length - y.length;
}

/** The versioned images of a /boot directory (rescue, kdump, fallback and backup copies left out), oldest version first. */
export function bootImages(boot: string): Array<{ path: string; version: string; size: number }> {
  let names: string[] = [];
  try {
    names = readdirSync(boot);
  } catch {
    return [];
  }
  return names
    .filter((n) => !/rescue|kdump|fallback|\.(old|bak|dpkg-\w+)$/.test(n))
    .map((n) => ({ n, version: versionFromImageName(n) }))
    .filter((x): x is { n: string; version: string } => x.version !== undefined)
    .flatMap(({ n, version }) => {
      const st = statSync(join(boot, n), { throwIfNoEntry: false });
      return st?.isFile() ? [{ path: join(boot, n), version, size: st.size }] : [];
    })
    .sort((a, b) => compareVersions(a.version, b.version));
}

/** The image of the kernel just before this image's kernel in the same directory. */
export function previousImage(image: string): { path: string; size: number } | undefined {
  const v = versionFromImageName(image);
  if (!v) return undefined;
  return bootImages(dirname(image))
    .filter((i) => compareVersions(i.version, v) < 0 && basename(i.path) !== basename(image))
    .pop();
}

/**
 * Without --root: the running kernel's image, else (a kernel booted without
 * one, as in a container or a VM started with its own rdinit) the newest in
 * /boot, saying why. With --root: the newest image in ROOT/boot.
 */
export function chooseImage(root: string | undefined): ImageChoice {
  const boot = root ? resolveInRoot(root, 'boot') : '/boot';
  const newest = bootImages(boot).pop();
  if (root) {
    if (!newest) throw new RdError(`no initramfs in ${boot} (looked for initrd.img-VERSION, initramfs-VERSION.img, initrd-VERSION); give IMAGE`, {}, EXIT.badInput);
    return { path: newest.path, rule: `the newest image in ${boot}: the highest kernel version there, the one GRUB boots by default` };
  }
  const kver = release();
  const tried = candidateImages(kver, boot);
  for (const p of tried) if (statSync(p, { throwIfNoEntry: false })?.isFile()) return { path: p, rule: `the running kernel ${kver}'s image` };
  const ukiFile = runningKernelUki(kver);
  if (ukiFile) return { path: ukiFile, rule: `the running kernel ${kver}'s UKI (its .uname)` };
  // A hypervisor that loads the kernel itself (Firecracker, QEMU -kernel) passes its own image or rdinit=; the command line tells.
  let cmdline = '';
  try {
    cmdline = readFileSync('/proc/cmdline', 'utf8');
  } catch {
    /* no /proc */
  }
  const given = /(?:^|\s)((?:rd)?init(?:rd)?=\S+)/.exec(cmdline)?.[1];
  const why =
    `the running kernel ${kver} has no initramfs in ${boot} (looked for ${tried.map((p) => basename(p)).join(', ')}) and no UKI in ${UKI_DIRS.join(', ')}: ` +
    `it was booted without one, or from files elsewhere${given ? ` (its command line has ${given})` : ''}`;
  if (!newest) throw new RdError(`${why}, and ${boot} holds no other image; give IMAGE`, {}, EXIT.badInput);
  return { path: newest.path, rule: `${why}; checking instead the newest image in ${boot}, for kernel ${newest.version}` };
}

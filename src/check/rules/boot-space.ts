import { statfsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { warning, type Rule } from '../findings.js';

/** The next kernel update writes one more image of about this size to the same place; a full /boot leaves it truncated ("RAMDISK: EOF"). */
export const bootSpaceLow: Rule = (ctx) => {
  const dir = dirname(ctx.image);
  let free: number;
  let size: number;
  try {
    const s = statfsSync(dir);
    free = s.bavail * s.bsize;
    size = statSync(ctx.image).size;
  } catch {
    return [];
  }
  if (free >= size) return [];
  return [warning('boot-space-low', `${dir} has ${free} bytes free, less than one more image of ${size} bytes (${ctx.image}): the next kernel update would write a truncated image. Remove old kernels (apt autoremove --purge, or dnf remove --oldinstallonly) before updating`)];
};

import { lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { resolveInRoot } from '../rescue/target.js';
import type { Volume } from './block-devices.js';

/**
 * A Linux root is a filesystem, or a btrfs subvolume, holding an
 * os-release (etc/ or usr/lib/) and an etc/fstab. A data disk has neither;
 * a recovery or EFI partition has no fstab.
 */
export const LINUX_FS = new Set(['ext2', 'ext3', 'ext4', 'xfs', 'btrfs']);

/** btrfs subvolumes a root usually lives in, tried first (openSUSE, Ubuntu, Fedora…). */
const ROOT_SUBVOLUMES = ['@', 'root', '@rootfs'];

export interface RootCandidate {
  volume: Volume;
  /** btrfs: the subvolume path from the top level; undefined for the default subvolume. */
  subvol?: string;
  osName: string;
  prettyName: string;
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** os-release's NAME and PRETTY_NAME, or undefined when `dir` is not a Linux root. */
export function linuxRootAt(dir: string): { osName: string; prettyName: string } | undefined {
  if (!exists(join(dir, 'etc/fstab'))) return undefined;
  let text: string | undefined;
  for (const rel of ['etc/os-release', 'usr/lib/os-release']) {
    try {
      text = readFileSync(resolveInRoot(dir, rel), 'utf8');
      break;
    } catch {
      // etc/os-release may point into a separate /usr that is not mounted yet: it still marks a root
      if (rel === 'etc/os-release' && exists(join(dir, rel))) text = '';
    }
  }
  if (text === undefined) return undefined;
  const field = (k: string) => new RegExp(`^${k}=["']?([^"'\\n]*)`, 'm').exec(text!)?.[1];
  const osName = field('NAME') ?? 'Linux';
  return { osName, prettyName: field('PRETTY_NAME') ?? osName };
}

/** Subvolumes directly below a mounted btrfs top level: directories with inode 256. */
export function topLevelSubvolumes(top: string): string[] {
  const names = readdirSync(top).filter((n) => {
    try {
      const st = statSync(join(top, n), { bigint: true });
      return st.isDirectory() && st.ino === 256n;
    } catch {
      return false;
    }
  });
  return [...ROOT_SUBVOLUMES.filter((n) => names.includes(n)), ...names.filter((n) => !ROOT_SUBVOLUMES.includes(n)).sort()];
}

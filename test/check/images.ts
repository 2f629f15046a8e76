import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extractImage } from '../../src/image/extract.js';
import { repackImage } from '../../src/write/repack.js';
import type { Compression } from '../../src/compression/index.js';
import { cached, installedKernel } from '../helpers/real-images.js';

/** Images for `check`, built by the real generators and broken one fault at a time, cached like the other real images. */

export const KVER = installedKernel();

function dracut(out: string, modules: string, drivers?: string): void {
  const args = ['--quiet', '--force', '--no-hostonly', '--no-hostonly-cmdline', '--kver', KVER, '-m', modules, '--no-early-microcode', '--gzip'];
  if (drivers) args.push('--drivers', drivers);
  execFileSync('dracut', [...args, out], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** `dracut --no-hostonly` with the drivers and tools of an XFS-on-LVM root (and LUKS, for the cryptsetup fault). */
export function dracutLvmImage(): string {
  return cached('check-dracut-lvm.img', (out) => dracut(out, 'base rootfs-block kernel-modules lvm crypt', 'ext4 xfs virtio_blk virtio_pci dm_mod dm_crypt'));
}

/** `dracut -m "bash base"`: a shell and dracut's init, no kernel module at all. */
export function dracutBashBaseImage(): string {
  return cached('check-dracut-bash-base.img', (out) => dracut(out, 'bash base'));
}

/**
 * A real image with one fault: extracted merged, changed by `fault`, packed
 * again. Named initrd.img-KVER inside its own directory, as on a real /boot,
 * so the kernel version comes from the name.
 */
export async function faultImage(name: string, base: string, fault: (tree: string) => void, compress: Compression | 'none' = 'zstd'): Promise<string> {
  const dir = join(base + '.faults', name);
  const out = join(dir, `initrd.img-${KVER}`);
  if (existsSync(out)) return out;
  const tree = mkdtempSync(join(tmpdir(), 'rdrescue-fault-'));
  try {
    await extractImage(base, tree, { merged: true });
    fault(tree);
    mkdirSync(dir, { recursive: true });
    await repackImage(tree, `${out}.tmp`, { compress });
    renameSync(`${out}.tmp`, out);
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
  return out;
}

/** The image recompressed by the xz program with a CRC64 check (xz's default, which the kernel refuses). */
export async function xzCrc64Image(base: string): Promise<string> {
  const plain = await faultImage('uncompressed', base, () => undefined, 'none');
  const out = join(base + '.faults', 'xz-crc64', `initrd.img-${KVER}`);
  mkdirSync(join(base + '.faults', 'xz-crc64'), { recursive: true });
  execFileSync('sh', ['-c', 'xz --check=crc64 -T0 -c "$1" > "$2.tmp" && mv "$2.tmp" "$2"', 'sh', plain, out]);
  return out;
}

/** The first half of an image, as a full /boot leaves it. */
export function truncatedImage(base: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'rdrescue-trunc-'));
  const out = join(dir, `initrd.img-${KVER}`);
  copyFileSync(base, out);
  truncateSync(out, Math.floor(statSync(out).size / 2));
  return out;
}

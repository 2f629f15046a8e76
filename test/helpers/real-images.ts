import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Real images built by the real generators for the installed kernel, cached
 * under .cache/test-images so the suite builds each once per kernel.
 */
const CACHE = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..', '.cache', 'test-images');

export function installedKernel(): string {
  const k = readdirSync('/lib/modules').filter((d) => existsSync(join('/lib/modules', d, 'modules.dep'))).sort();
  if (k.length === 0) throw new Error('no kernel with modules in /lib/modules: install linux-image-amd64');
  return k[k.length - 1];
}

/** The distribution's own initramfs for the installed kernel (made by update-initramfs when the kernel package was installed). */
export function distributionImage(): string {
  const p = `/boot/initrd.img-${installedKernel()}`;
  if (!existsSync(p)) throw new Error(`${p} missing: install linux-image-amd64 and initramfs-tools`);
  return p;
}

export function cached(name: string, build: (out: string) => void): string {
  const out = join(CACHE, `${installedKernel()}-${name}`);
  if (existsSync(out)) return out;
  mkdirSync(CACHE, { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  build(tmp);
  renameSync(tmp, out);
  return out;
}

/** `dracut --no-hostonly` with a small module set: bash-based, no busybox. */
export function dracutImage(compress: 'gzip' | 'zstd' | 'no-compress' = 'gzip'): string {
  return cached(`dracut-${compress}.img`, (out) => {
    execFileSync(
      'dracut',
      ['--quiet', '--force', '--no-hostonly', '--no-hostonly-cmdline', '--kver', installedKernel(), '-m', 'base rootfs-block kernel-modules', '--drivers', 'virtio_blk virtio_pci ext4', `--${compress}`, '--no-early-microcode', out],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
  });
}

/** `mkinitramfs` with MODULES=list (fast), busybox-based, zstd as Debian configures it. */
export function mkinitramfsImage(): string {
  return cached('mkinitramfs.img', (out) => {
    const conf = `${out}.conf`;
    rmSync(conf, { recursive: true, force: true });
    cpSync('/etc/initramfs-tools', conf, { recursive: true });
    writeFileSync(join(conf, 'initramfs.conf'), 'MODULES=list\nBUSYBOX=y\nCOMPRESS=zstd\nFSTYPE=ext4\n');
    writeFileSync(join(conf, 'modules'), 'virtio_pci\nvirtio_blk\next4\n');
    try {
      execFileSync('mkinitramfs', ['-d', conf, '-o', out, installedKernel()], { stdio: ['ignore', 'ignore', 'pipe'] });
    } finally {
      rmSync(conf, { recursive: true, force: true });
    }
  });
}

/** The distribution image's cpio data, decompressed once. */
export function distributionCpio(): string {
  return cached('distribution.cpio', (out) => {
    execFileSync('sh', ['-c', 'zstd -dc "$1" > "$2"', 'sh', distributionImage(), out]);
  });
}

/** Compressor command lines as the kernel expects them (xz needs crc32, lz4 the legacy frame). */
export const COMPRESSORS: Record<string, string[]> = {
  gzip: ['gzip', '-n', '-6'],
  zstd: ['zstd', '-q', '-c', '-T0'],
  // mkinitramfs's own xz line (its default level, threads when not reproducible): blocks a
  // multi-threaded xz decodes in parallel, as on a real system.
  xz: ['xz', '--check=crc32', '--threads=0', '-c'],
  // Fast presets below: the tests need the formats, not the ratios.
  lzma: ['xz', '--format=lzma', '-0', '-c'],
  lz4: ['lz4', '-l', '-q', '-c'],
  bzip2: ['bzip2', '-1', '-c'],
  lzo: ['lzop', '-c'],
};

/** The distribution image's cpio recompressed with one compressor. */
export function recompressed(name: keyof typeof COMPRESSORS): string {
  return cached(`distribution.${name}.img`, (out) => {
    const cmd = COMPRESSORS[name].map((a) => `'${a}'`).join(' ');
    execFileSync('sh', ['-c', `${cmd} < "$1" > "$2"`, 'sh', distributionCpio(), out]);
  });
}

import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, linkSync, lutimesSync, mkdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A tree with every entry type an initramfs can hold: files (empty, binary,
 * setuid, setgid, sticky dir), a hard-link group of three, symlinks (relative,
 * absolute, dangling), char and block devices, a fifo, UTF-8 names, odd owners
 * and fixed mtimes. Needs root for the devices and owners.
 */
export function makeSampleTree(root: string): void {
  mkdirSync(join(root, 'usr/bin'), { recursive: true });
  mkdirSync(join(root, 'etc/ssh'), { recursive: true });
  mkdirSync(join(root, 'dev'));
  mkdirSync(join(root, 'tmp'));
  mkdirSync(join(root, 'données/été'), { recursive: true });
  writeFileSync(join(root, 'etc/hostname'), 'rescue\n');
  writeFileSync(join(root, 'etc/empty'), '');
  writeFileSync(join(root, 'etc/ssh/sshd_config'), 'PermitRootLogin yes\n'.repeat(50));
  const bin = Buffer.alloc(70001);
  for (let i = 0; i < bin.length; i++) bin[i] = (i * 2654435761) >>> 24;
  writeFileSync(join(root, 'usr/bin/busybox'), bin);
  chmodSync(join(root, 'usr/bin/busybox'), 0o755);
  linkSync(join(root, 'usr/bin/busybox'), join(root, 'usr/bin/sh'));
  linkSync(join(root, 'usr/bin/busybox'), join(root, 'usr/bin/ls'));
  writeFileSync(join(root, 'usr/bin/su'), 'setuid program\n');
  chmodSync(join(root, 'usr/bin/su'), 0o4755);
  writeFileSync(join(root, 'usr/bin/wall'), 'setgid program\n');
  chownSync(join(root, 'usr/bin/wall'), 0, 5);
  chmodSync(join(root, 'usr/bin/wall'), 0o2755);
  chmodSync(join(root, 'tmp'), 0o1777);
  writeFileSync(join(root, 'données/été/café.txt'), 'crème\n');
  writeFileSync(join(root, 'etc/owned'), 'owned by 1234:5678\n');
  chownSync(join(root, 'etc/owned'), 1234, 5678);
  symlinkSync('usr/bin', join(root, 'bin'));
  symlinkSync('/usr/bin/busybox', join(root, 'init'));
  symlinkSync('../nowhere', join(root, 'etc/dangling'));
  execFileSync('mknod', ['-m', '600', join(root, 'dev/console'), 'c', '5', '1']);
  execFileSync('mknod', ['-m', '666', join(root, 'dev/null'), 'c', '1', '3']);
  execFileSync('mknod', ['-m', '660', join(root, 'dev/vda'), 'b', '254', '0']);
  execFileSync('mknod', ['-m', '644', join(root, 'dev/initctl'), 'p']);
  const t = 1700000000;
  for (const p of ['etc/hostname', 'etc/empty', 'etc/ssh/sshd_config', 'usr/bin/busybox', 'usr/bin/su', 'usr/bin/wall', 'données/été/café.txt', 'etc/owned', 'dev/console', 'dev/null', 'dev/vda', 'dev/initctl']) {
    utimesSync(join(root, p), t, t + 1);
  }
  for (const p of ['bin', 'init', 'etc/dangling']) lutimesSync(join(root, p), t, t + 2);
  for (const p of ['usr/bin', 'usr', 'etc/ssh', 'etc', 'dev', 'tmp', 'données/été', 'données', '']) utimesSync(join(root, p), t, t + 3);
}

/** A newc or crc archive of `root` made by GNU cpio, names as `find .` prints them. */
export function gnuCpio(root: string, format: 'newc' | 'crc' = 'newc'): Buffer {
  return execFileSync('sh', ['-c', `cd "$1" && find . | LC_ALL=C sort | cpio -o --quiet -H ${format}`, 'sh', root], { maxBuffer: 1 << 30 });
}

/** The same with bsdtar (libarchive). */
export function bsdtarCpio(root: string): Buffer {
  return execFileSync('sh', ['-c', 'cd "$1" && find . | LC_ALL=C sort | bsdtar -n --format newc -cf - -T -', 'sh', root], { maxBuffer: 1 << 30 });
}

/** The same with busybox cpio. */
export function busyboxCpio(root: string): Buffer {
  return execFileSync('sh', ['-c', 'cd "$1" && find . | LC_ALL=C sort | busybox cpio -o -H newc', 'sh', root], { maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] });
}

/** Extracts one uncompressed archive with GNU cpio -idm: the oracle. */
export function gnuExtract(archive: Buffer, dest: string): void {
  mkdirSync(dest, { recursive: true });
  execFileSync('cpio', ['-idm', '--quiet', '--no-absolute-filenames'], { cwd: dest, input: archive, maxBuffer: 1 << 30 });
}

/** Zero padding so the next archive starts where the kernel wants it. */
export function padTo(buf: Buffer, align: number): Buffer {
  const rem = buf.length % align;
  return rem ? Buffer.concat([buf, Buffer.alloc(align - rem)]) : buf;
}

export function compressWith(tool: string[], data: Buffer): Buffer {
  return execFileSync(tool[0], tool.slice(1), { input: data, maxBuffer: 1 << 30 });
}

/** GNU cpio (newc) archive of a tree that `fill` builds in the new directory `root`. */
export function archiveOf(root: string, fill: (root: string) => void): Buffer {
  mkdirSync(root, { recursive: true });
  fill(root);
  return gnuCpio(root);
}

/** The early microcode part dracut and mkinitramfs put first: kernel/x86/microcode/<vendor>.bin. */
export function microcodeTree(vendor: 'GenuineIntel' | 'AuthenticAMD', size: number): (root: string) => void {
  return (root) => {
    mkdirSync(join(root, 'kernel/x86/microcode'), { recursive: true });
    writeFileSync(join(root, `kernel/x86/microcode/${vendor}.bin`), Buffer.alloc(size, vendor === 'GenuineIntel' ? 7 : 9));
  };
}

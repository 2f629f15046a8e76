import { spawn } from 'node:child_process';
import { accessSync, constants, createWriteStream, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { writeArchive, type WriteEntry } from '../../src/cpio/writer.js';
import { cached, CACHE_DIR } from './cache.js';

/** The newest kernel that has both an image in /boot and its modules (dracut and mkinitramfs need both). */
export function installedKernel(): { kver: string; vmlinuz: string } {
  const kvers = readdirSync('/boot')
    .filter((f) => f.startsWith('vmlinuz-'))
    .map((f) => f.slice('vmlinuz-'.length))
    .filter((k) => existsSync(join('/lib/modules', k, 'modules.dep')))
    .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  const kver = kvers.at(-1);
  if (!kver) throw new Error('no /boot/vmlinuz-* with matching /lib/modules/*/modules.dep: install a linux-image package');
  return { kver, vmlinuz: join('/boot', `vmlinuz-${kver}`) };
}

const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

/**
 * Under TCG, booting the ELF vmlinux through its PVH entry point skips the
 * bzImage's self-decompression, which is several seconds of emulated code.
 * The payload is the xz stream inside the bzImage; xz complains about the
 * trailer after it, which is expected.
 */
export async function pvhVmlinux(kver: string, vmlinuz: string): Promise<string> {
  const { path } = await cached(`vmlinux-${kver}`, async (tmp) => {
    const img = readFileSync(vmlinuz);
    const at = img.indexOf(XZ_MAGIC);
    if (at < 0) throw new Error(`${vmlinuz}: no xz payload (kernel not xz-compressed); cannot make a PVH vmlinux`);
    const r = await new Promise<{ out: Buffer }>((resolve, reject) => {
      const p = spawn('xz', ['-dc'], { stdio: ['pipe', 'pipe', 'ignore'] });
      const chunks: Buffer[] = [];
      p.stdout.on('data', (c: Buffer) => chunks.push(c));
      p.on('error', reject);
      p.on('close', () => resolve({ out: Buffer.concat(chunks) }));
      p.stdin.on('error', () => {});
      p.stdin.end(img.subarray(at));
    });
    if (r.out.length < 4 || r.out.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${vmlinuz}: xz payload is not an ELF vmlinux`);
    writeFileSync(tmp, r.out);
  });
  return path;
}

export type Accel = 'kvm' | 'tcg';

/**
 * /dev/kvm can exist without working (no vmx/svm exposed to this VM): the
 * kernel then spins silently. So KVM is used only if a tiny initramfs that
 * prints a marker boots under it within a few seconds. The answer is cached
 * per kernel, as the probe costs up to 12 s.
 */
export async function chooseAccel(kver: string, vmlinux: string): Promise<{ accel: Accel; why: string }> {
  if (process.env.RDRESCUE_VM_ACCEL === 'tcg' || process.env.RDRESCUE_VM_ACCEL === 'kvm') {
    return { accel: process.env.RDRESCUE_VM_ACCEL, why: 'RDRESCUE_VM_ACCEL' };
  }
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return { accel: 'tcg', why: '/dev/kvm is missing or not accessible' };
  }
  const memo = join(CACHE_DIR, `kvm-probe-${kver}.json`);
  if (existsSync(memo)) return JSON.parse(readFileSync(memo, 'utf8')) as { accel: Accel; why: string };
  const initrd = await probeInitrd();
  const ok = await new Promise<boolean>((resolve) => {
    const q = spawn(
      'qemu-system-x86_64',
      ['-accel', 'kvm', '-m', '256M', '-display', 'none', '-monitor', 'none', '-serial', 'stdio', '-no-reboot',
        '-kernel', vmlinux, '-initrd', initrd, '-append', 'console=ttyS0 quiet rdinit=/init panic=-1'],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    let out = '';
    const timer = setTimeout(() => q.kill('SIGKILL'), 12_000);
    q.stdout.on('data', (c: Buffer) => {
      out += c.toString('latin1');
      if (out.includes('@@KVM-PROBE-OK@@')) q.kill('SIGKILL');
    });
    q.on('close', () => {
      clearTimeout(timer);
      resolve(out.includes('@@KVM-PROBE-OK@@'));
    });
    q.on('error', () => resolve(false));
  });
  const answer = ok
    ? { accel: 'kvm' as const, why: 'probe booted under KVM' }
    : { accel: 'tcg' as const, why: '/dev/kvm present but a probe kernel did not boot under it within 12 s' };
  writeFileSync(memo, JSON.stringify(answer));
  return answer;
}

/** A one-program initramfs: busybox prints the marker and powers off, so a working accelerator answers in about a second. */
async function probeInitrd(): Promise<string> {
  const { path } = await cached('kvm-probe.cpio', async (tmp) => {
    const busybox = readFileSync('/bin/busybox');
    const init = Buffer.from('#!/bin/busybox sh\n/bin/busybox echo @@KVM-PROBE-OK@@\n/bin/busybox poweroff -f\n');
    const base = { uid: 0, gid: 0, mtime: 0, nlink: 1 };
    const entries: WriteEntry[] = [
      { ...base, name: 'bin', type: 'dir', perm: 0o755, ino: 1, size: 0, nlink: 2 },
      { ...base, name: 'bin/busybox', type: 'file', perm: 0o755, ino: 2, size: busybox.length, data: () => [busybox] },
      { ...base, name: 'init', type: 'file', perm: 0o755, ino: 3, size: init.length, data: () => [init] },
    ];
    await pipeline(Readable.from(writeArchive(entries)), createWriteStream(tmp));
  });
  return path;
}

// The installed Debian kernel (/boot/vmlinuz-*, an xz payload with the x86
// BCJ filter) read from its setup header; the xz program and cpio are the oracles.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { bzImageVmlinux, parseBzImageHeader, readBzImageHeader } from '../../src/kernel/bzimage.js';
import { elfSections, locateBuiltinInitramfs } from '../../src/kernel/vmlinux.js';
import { installedKernel } from '../helpers/real-images.js';

const kver = installedKernel();
const kernel = `/boot/vmlinuz-${kver}`;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

t.test('setup header of the installed kernel', async (t) => {
  const h = await readBzImageHeader(kernel);
  t.equal(h.release, kver, 'kernel_version names the release /lib/modules has');
  t.match(h.version, new RegExp(`^${kver.replace(/\./g, '\\.')} \\(`));
  t.ok(Number(h.protocol) >= 2.08, `protocol ${h.protocol} has payload fields`);
  const config = readFileSync(`/boot/config-${kver}`, 'utf8');
  const want = /^CONFIG_KERNEL_(\w+)=y/m.exec(config)![1]!.toLowerCase();
  t.equal(h.payloadCompression, want, 'payload compression is the one the config chose');
  // file(1) reads the same header: its "version" text is the kernel_version string.
  t.match(execFileSync('file', ['-b', kernel]).toString(), h.version!.split(' ')[0]!);
});

t.test('vmlinux from the payload equals what the xz program gives, built-in decoder included', async (t) => {
  const bytes = readFileSync(kernel);
  const h = parseBzImageHeader(bytes, kernel);
  const payload = bytes.subarray(h.payloadOffset!, h.payloadOffset! + h.payloadLength!);
  const oracle = execFileSync('xz', ['-dc', '--single-stream'], { input: payload, maxBuffer: 1 << 30 });
  const builtIn = await bzImageVmlinux(kernel, { native: false });
  t.equal(builtIn.length, oracle.length);
  t.equal(sha(builtIn), sha(oracle), 'BCJ x86 + LZMA2 decoded in TypeScript, byte for byte');
  t.equal(sha(await bzImageVmlinux(kernel)), sha(oracle), 'native path');
  t.ok(elfSections(builtIn, kernel).sections.some((s) => s.name === '.init.data'), 'an ELF vmlinux with .init.data');
});

t.test('the built-in initramfs of a kernel built with CONFIG_INITRAMFS_SOURCE="" is the default /dev, /dev/console, /root', async (t) => {
  const v = await bzImageVmlinux(kernel);
  const at = locateBuiltinInitramfs(v, kernel);
  t.ok(at, 'found');
  t.equal(at!.found, 'end of .init.data', 'stripped vmlinux: found by the linker layout');
  const cpio = v.subarray(at!.offset, at!.offset + at!.length);
  t.equal(execFileSync('cpio', ['-t', '--quiet'], { input: cpio }).toString(), 'dev\ndev/console\nroot\n', 'cpio -t of the located bytes');
});

t.test('not a kernel: one clear error', async (t) => {
  await t.rejects(readBzImageHeader('/etc/os-release'), { message: /\/etc\/os-release: offset 514: not a Linux kernel image/ });
  const bytes = readFileSync(kernel).subarray(0, 1 << 20);
  t.throws(() => parseBzImageHeader(bytes, 'cut'), { message: /cut: offset \d+: truncated kernel image: the compressed kernel .* ends past the end of the file/ });
});

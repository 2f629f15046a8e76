// The kernel as a file: a bzImage's setup header gives its version, its vmlinux may carry
// the configuration (IKCONFIG); a UKI given as IMAGE is checked with its own .linux.
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { checkImage } from '../../src/check/check.js';
import { embeddedConfig } from '../../src/kernel/ikconfig.js';
import { dracutImage, mkinitramfsImage } from '../helpers/real-images.js';
import { buildUki } from '../helpers/uki.js';
import { KVER } from './images.js';

const work = mkdtempSync(join(tmpdir(), 'rdrescue-check-kernel-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const vmlinuz = `/boot/vmlinuz-${KVER}`;
const emptyRoot = mkdtempSync(join(work, 'root-'));

t.test('--kernel VMLINUZ: the version from the setup header, whatever the image is called', async (t) => {
  const r = await checkImage({ image: dracutImage(), kernel: vmlinuz, root: emptyRoot });
  t.equal(r.kernel, KVER);
  t.match(r.notes.join('\n'), new RegExp(`kernel: ${KVER}, from the kernel_version string of ${vmlinuz}'s setup header`));
  // Debian builds without CONFIG_IKCONFIG: the output says so instead of guessing.
  t.match(r.notes.join('\n'), /no embedded configuration \(IKCONFIG\); CONFIG_RD_\* not checked/);
});

t.test('--kernel naming a file that is not a kernel: one error, bad input', async (t) => {
  const notKernel = join(work, 'not-a-kernel');
  writeFileSync(notKernel, Buffer.alloc(4096));
  await t.rejects(checkImage({ image: dracutImage(), kernel: notKernel }), { exitCode: 3, message: /not a Linux kernel image/ });
  await t.rejects(checkImage({ image: dracutImage(), kernel: './missing-vmlinuz' }), { exitCode: 3, message: /no such file/ });
});

t.test('IKCONFIG: the gzip-compressed configuration between IKCFG_ST and IKCFG_ED', async (t) => {
  const config = '# Linux/x86 6.1.0 Kernel Configuration\nCONFIG_RD_GZIP=y\n# CONFIG_RD_ZSTD is not set\n';
  const vmlinux = Buffer.concat([Buffer.alloc(1000, 0x90), Buffer.from('IKCFG_ST'), gzipSync(config), Buffer.from('IKCFG_ED'), Buffer.alloc(100)]);
  t.equal(embeddedConfig(vmlinux, 'vmlinux'), config);
  t.equal(embeddedConfig(Buffer.alloc(100), 'vmlinux'), undefined, 'a kernel without IKCONFIG');
  t.throws(() => embeddedConfig(Buffer.concat([Buffer.from('IKCFG_ST'), Buffer.from('garbage'), Buffer.from('IKCFG_ED')]), 'vmlinux'), { message: /vmlinux: offset 8: the embedded configuration \(IKCONFIG\) does not decompress/ });
});

t.test("a UKI as IMAGE: its .initrd is checked, for the kernel of its .uname", async (t) => {
  const uname = join(work, 'uname');
  writeFileSync(uname, KVER);
  const good = join(work, 'good.efi');
  buildUki(good, [['.linux', vmlinuz], ['.uname', uname], ['.initrd', dracutImage()]]);
  const r = await checkImage({ image: good, root: emptyRoot });
  t.equal(r.kernel, KVER);
  t.match(r.notes.join('\n'), /from the UKI's \.uname/);
  t.same(r.findings.filter((f) => f.level === 'error'), []);
  // The same UKI with a zstd initrd, for a root whose kernel configuration has no CONFIG_RD_ZSTD.
  const root = mkdtempSync(join(work, 'nozstd-'));
  mkdirSync(join(root, 'boot'));
  writeFileSync(join(root, 'boot', `config-${KVER}`), readFileSync(`/boot/config-${KVER}`, 'utf8').replace(/^CONFIG_RD_ZSTD=y$/m, '# CONFIG_RD_ZSTD is not set'));
  const zstd = join(work, 'zstd.efi');
  buildUki(zstd, [['.linux', vmlinuz], ['.uname', uname], ['.initrd', mkinitramfsImage()]]);
  const bad = await checkImage({ image: zstd, root });
  t.ok(bad.findings.some((f) => f.code === 'compression-unsupported'), bad.findings.map((f) => f.code).join(', '));
});

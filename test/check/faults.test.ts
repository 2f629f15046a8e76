// Real images broken one fault at a time: each must be named by its finding code,
// and the same image without the fault must pass against the same root.
import t from 'tap';
import { readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { checkImage } from '../../src/check/check.js';
import { mkinitramfsImage } from '../helpers/real-images.js';
import { dracutLvmImage, faultImage, KVER, truncatedImage, xzCrc64Image } from './images.js';
import { ext4Root, luksRoot, rootWithout, xfsLvmRoot } from './roots.js';

const ext4 = ext4Root();
const xfsLvm = xfsLvmRoot();
const luks = luksRoot();
t.teardown(() => {
  ext4.cleanup();
  xfsLvm.cleanup();
  luks.cleanup();
});

const base = mkinitramfsImage();
const codes = async (image: string, root: string, kernel?: string) => {
  const r = await checkImage({ image, root, kernel });
  return { r, errors: r.findings.filter((f) => f.level === 'error').map((f) => f.code) };
};

t.test('the unbroken images pass against the roots the faults are checked with', async (t) => {
  for (const [image, root, what] of [
    [base, ext4.mnt, 'mkinitramfs image, ext4 root'],
    [dracutLvmImage(), xfsLvm.root, 'dracut lvm image, XFS-on-LVM root'],
    [dracutLvmImage(), luks.root, 'dracut crypt image, LUKS root'],
  ] as const) {
    const { r, errors } = await codes(image, root, KVER);
    t.same(errors, [], `${what}: ${r.findings.map((f) => f.message).join(' | ')}`);
  }
});

const moduleDir = (tree: string) => join(tree, 'usr/lib/modules', KVER);

const faults: Array<{ code: string; name: string; image: () => Promise<string>; root: () => string; kernel?: string; mentions: RegExp }> = [
  {
    code: 'root-fs-driver-missing',
    name: 'the ext4 module removed',
    image: () => faultImage('no-ext4', base, (tree) => rmSync(join(moduleDir(tree), 'kernel/fs/ext4'), { recursive: true })),
    root: () => ext4.mnt,
    mentions: /ext4.*(update-initramfs|dracut)/,
  },
  { code: 'init-missing', name: '/init removed', image: () => faultImage('no-init', base, (tree) => rmSync(join(tree, 'init'))), root: () => ext4.mnt, mentions: /\/init/ },
  { code: 'init-interpreter-missing', name: '/bin/sh removed', image: () => faultImage('no-sh', base, (tree) => rmSync(join(tree, 'bin/sh'))), root: () => ext4.mnt, mentions: /\/bin\/sh/ },
  {
    code: 'library-missing',
    name: 'libc removed',
    image: () => faultImage('no-libc', base, (tree) => rmSync(join(tree, 'usr/lib/x86_64-linux-gnu/libc.so.6'))),
    root: () => ext4.mnt,
    mentions: /libc\.so\.6 needed by/,
  },
  {
    code: 'lvm-missing',
    name: 'the lvm program removed (XFS-on-LVM root)',
    image: () => faultImage('no-lvm', dracutLvmImage(), (tree) => rmSync(join(tree, 'usr/sbin/lvm')), 'gzip'),
    root: () => xfsLvm.root,
    mentions: /rhel-root.*lvm program.*dracut -f --kver \S+ --add lvm/,
  },
  {
    code: 'luks-missing',
    name: 'cryptsetup removed (LUKS root)',
    image: () => faultImage('no-cryptsetup', dracutLvmImage(), (tree) => rmSync(join(tree, 'usr/sbin/cryptsetup')), 'gzip'),
    root: () => luks.root,
    mentions: /cryptsetup.*--add crypt/,
  },
  {
    code: 'kernel-modules-missing',
    name: 'the modules directory swapped for another kernel version',
    image: () => faultImage('other-kver', base, (tree) => renameSync(moduleDir(tree), join(tree, 'usr/lib/modules/5.10.0-99-amd64'))),
    root: () => ext4.mnt,
    mentions: /5\.10\.0-99-amd64 only.*kernel is 6|5\.10\.0-99-amd64 only/,
  },
  { code: 'xz-check-unsupported', name: 'recompressed with xz --check=crc64', image: () => xzCrc64Image(base), root: () => ext4.mnt, mentions: /CRC64.*--check=crc32/ },
  { code: 'image-unreadable', name: 'truncated to half', image: async () => truncatedImage(base), root: () => ext4.mnt, mentions: /offset \d+/ },
];

for (const f of faults) {
  t.test(`${f.name}: ${f.code}`, async (t) => {
    const { r, errors } = await codes(await f.image(), f.root(), f.kernel);
    t.ok(errors.includes(f.code), `errors: ${errors.join(', ')}`);
    t.equal(r.ok, false);
    const msg = r.findings.find((x) => x.code === f.code)?.message ?? '';
    t.match(msg, f.mentions, msg);
  });
}

t.test('a kernel configuration without CONFIG_RD_ZSTD: compression-unsupported for the zstd image', async (t) => {
  const root = rootWithout('CONFIG_RD_ZSTD');
  t.teardown(root.cleanup);
  const { r, errors } = await codes(base, root.root, KVER);
  t.same(errors, ['compression-unsupported'], r.findings.map((f) => f.message).join(' | '));
  t.match(r.findings[0].message, /zstd-compressed.*CONFIG_RD_ZSTD=y.*gzip/);
  const other = rootWithout('CONFIG_RD_XZ');
  t.teardown(other.cleanup);
  t.same((await codes(base, other.root, KVER)).errors, [], 'a missing CONFIG_RD_XZ does not matter to a zstd image');
});

t.test('fault images are cached next to their base, each in its own directory', async (t) => {
  t.ok(readdirSync(base + '.faults').length >= 5);
});

t.test('a monolithic kernel (no CONFIG_MODULES) needs no lib/modules in the image', async (t) => {
  const mono = rootWithout('CONFIG_MODULES');
  t.teardown(mono.cleanup);
  const image = await faultImage('other-kver', base, () => undefined);
  const { errors } = await codes(image, mono.root, KVER);
  t.notOk(errors.includes('kernel-modules-missing'), errors.join(', '));
});

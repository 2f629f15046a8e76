// The warnings, each shown on a real image with the condition and without it.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkImage } from '../../src/check/check.js';
import { repackImage } from '../../src/write/repack.js';
import { extractImage } from '../../src/image/extract.js';
import { distributionImage, dracutImage, mkinitramfsImage } from '../helpers/real-images.js';
import { KVER } from './images.js';

const work = mkdtempSync(join(tmpdir(), 'rdrescue-check-warn-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

function rootWith(fstab: string, files: Record<string, string> = {}): string {
  const root = mkdtempSync(join(work, 'root-'));
  mkdirSync(join(root, 'etc'));
  writeFileSync(join(root, 'etc/fstab'), fstab);
  for (const [p, text] of Object.entries(files)) writeFileSync(join(root, p), text);
  return root;
}
const ext4 = rootWith('/dev/vda / ext4 defaults 0 0\n');
const codes = async (image: string, root: string) => (await checkImage({ image, root, kernel: KVER })).findings.map((f) => `${f.level}:${f.code}`);

t.test('microcode-not-early: microcode inside the compressed main archive; none when it is in an early uncompressed archive', async (t) => {
  const tree = join(work, 'mc-tree');
  await extractImage(dracutImage(), tree, { merged: true });
  const early = join(work, 'mc-early');
  mkdirSync(join(early, 'kernel/x86/microcode'), { recursive: true });
  writeFileSync(join(early, 'kernel/x86/microcode/GenuineIntel.bin'), Buffer.alloc(4096, 1));
  const good = join(work, 'early-microcode.img');
  await repackImage(tree, good, { compress: 'gzip', early: [early] });
  t.notOk((await codes(good, ext4)).includes('warning:microcode-not-early'));
  mkdirSync(join(tree, 'kernel/x86/microcode'), { recursive: true });
  copyFileSync(join(early, 'kernel/x86/microcode/GenuineIntel.bin'), join(tree, 'kernel/x86/microcode/GenuineIntel.bin'));
  const bad = join(work, 'late-microcode.img');
  await repackImage(tree, bad, { compress: 'gzip' });
  const r = await checkImage({ image: bad, root: ext4, kernel: KVER });
  t.match(r.findings.find((f) => f.code === 'microcode-not-early'), { level: 'warning', message: /GenuineIntel\.bin is in segment 0, which is gzip-compressed/ });
  t.equal(r.ok, true, 'a warning does not fail the check');
});

t.test("image-shrank: more than a quarter smaller than the previous kernel's image next to it", async (t) => {
  const boot = join(work, 'boot');
  mkdirSync(boot);
  copyFileSync(distributionImage(), join(boot, 'initrd.img-6.1.0-9-amd64'));
  copyFileSync(mkinitramfsImage(), join(boot, `initrd.img-${KVER}`));
  const r = await checkImage({ image: join(boot, `initrd.img-${KVER}`), root: ext4 });
  t.match(r.findings.find((f) => f.code === 'image-shrank')?.message, /\d+% smaller than the previous kernel's .*initrd\.img-6\.1\.0-9-amd64.*rdrescue diff/);
  copyFileSync(mkinitramfsImage(), join(boot, 'initrd.img-6.1.0-9-amd64'));
  t.notOk((await codes(join(boot, `initrd.img-${KVER}`), ext4)).includes('warning:image-shrank'), 'same size: no warning');
});

t.test('boot-space-low: less free space than one more image', async (t) => {
  const small = join(work, 'small-boot');
  mkdirSync(small);
  const size = statSync(mkinitramfsImage()).size;
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${Math.ceil((size * 1.3) / 4096) * 4096}`, 'tmpfs', small]);
  t.teardown(() => execFileSync('umount', [small]));
  copyFileSync(mkinitramfsImage(), join(small, `initrd.img-${KVER}`));
  const r = await checkImage({ image: join(small, `initrd.img-${KVER}`), root: ext4 });
  t.match(r.findings.find((f) => f.code === 'boot-space-low')?.message, /bytes free, less than one more image of \d+ bytes/);
  t.notOk((await codes(mkinitramfsImage(), ext4)).includes('warning:boot-space-low'), 'plenty of room: no warning');
});

t.test('md-tools-missing: a root on /dev/md0 and an image without mdadm', async (t) => {
  const md = rootWith('/dev/md0 / ext4 defaults 0 0\n');
  t.ok((await codes(dracutImage(), md)).includes('warning:md-tools-missing'));
  t.notOk((await codes(distributionImage(), md)).includes('warning:md-tools-missing'), "the Debian image has mdadm");
});

t.test('fsck-missing only where the generator adds fsck and fstab asks for a check', async (t) => {
  const checked = rootWith('/dev/vda / ext4 defaults 0 1\n');
  // update-initramfs ran here with an unconfigured fstab, so the distribution image has no fsck; the test mkinitramfs image has FSTYPE=ext4.
  t.ok((await codes(distributionImage(), checked)).includes('warning:fsck-missing'), 'initramfs-tools, pass 1, no e2fsck in the image');
  t.notOk((await codes(distributionImage(), ext4)).includes('warning:fsck-missing'), 'pass 0: no check asked for');
  t.notOk((await codes(mkinitramfsImage(), checked)).includes('warning:fsck-missing'), 'an image with e2fsck');
  t.notOk((await codes(dracutImage(), checked)).includes('warning:fsck-missing'), 'dracut without fs-lib does not add fsck');
});

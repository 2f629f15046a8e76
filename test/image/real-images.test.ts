// Real images from real generators, and the distribution's image recompressed
// with every compressor the kernel knows, against GNU cpio and unmkinitramfs.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extractImage } from '../../src/image/extract.js';
import { imageInfo } from '../../src/image/info.js';
import { rdrescue } from '../helpers/cli.js';
import { COMPRESSORS, distributionCpio, distributionImage, dracutImage, installedKernel, mkinitramfsImage, recompressed } from '../helpers/real-images.js';
import { diffSnapshots, snapshot } from '../helpers/tree.js';

const work = mkdtempSync(join(tmpdir(), 'rdrescue-real-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const kver = installedKernel();

const cpioList = (cmd: string, img: string) => execFileSync('sh', ['-c', `${cmd} "$1" | cpio -t --quiet`, 'sh', img], { maxBuffer: 1 << 28 }).toString();
function cpioExtract(cmd: string, img: string, dest: string) {
  execFileSync('sh', ['-c', `mkdir -p "$2" && ${cmd} "$1" | (cd "$2" && cpio -idm --quiet --no-absolute-filenames)`, 'sh', img, dest]);
}

t.test('the distribution image (initramfs-tools, zstd)', async (t) => {
  const img = distributionImage();
  const ls = rdrescue(['ls', img]);
  t.equal(ls.status, 0, ls.stderr);
  t.equal(ls.stdout, execFileSync('lsinitramfs', [img], { maxBuffer: 1 << 28 }).toString(), 'ls equals lsinitramfs');
  const theirs = join(work, 'dist-unmk');
  execFileSync('unmkinitramfs', [img, theirs]);
  const ours = join(work, 'dist-ours');
  await extractImage(img, ours);
  t.same(diffSnapshots(snapshot(theirs), snapshot(ours)), [], 'extract equals unmkinitramfs');
  const info = await imageInfo(img);
  t.same(info.kernelVersions, [kver]);
  t.equal(info.generator?.name, 'initramfs-tools');
  t.ok(info.modules.includes('ext4'), 'module list has ext4');
  t.ok(info.bootScripts!.some((s) => s.startsWith('init-top/')), 'boot scripts listed');
});

t.test('dracut --no-hostonly image (gzip)', async (t) => {
  const img = dracutImage('gzip');
  const ls = rdrescue(['ls', img]);
  t.equal(ls.stdout, cpioList('gzip -dc', img), 'ls equals gzip -dc | cpio -t');
  const theirs = join(work, 'dracut-cpio');
  cpioExtract('gzip -dc', img, theirs);
  const ours = join(work, 'dracut-ours');
  await extractImage(img, ours);
  t.same(diffSnapshots(snapshot(theirs), snapshot(ours)), [], 'extract equals cpio -idm');
  const info = await imageInfo(img);
  t.equal(info.generator?.name, 'dracut');
  t.ok(info.dracutModules?.includes('base'), 'dracut modules listed');
  t.same(info.kernelVersions, [kver]);
  t.ok(info.modules.includes('virtio_blk'));
  const cat = rdrescue(['cat', img, 'usr/lib/dracut/modules.txt']);
  t.match(cat.stdout, /^base$/m, 'cat prints a file like lsinitrd -f');
  t.equal(cat.stdout, execFileSync('lsinitrd', ['-f', 'usr/lib/dracut/modules.txt', img]).toString(), 'cat equals lsinitrd -f');
});

t.test('mkinitramfs image (zstd, busybox)', async (t) => {
  const img = mkinitramfsImage();
  t.equal(rdrescue(['ls', img]).stdout, execFileSync('lsinitramfs', [img], { maxBuffer: 1 << 28 }).toString());
  const theirs = join(work, 'mkinit-unmk');
  execFileSync('unmkinitramfs', [img, theirs]);
  const ours = join(work, 'mkinit-ours');
  await extractImage(img, ours);
  t.same(diffSnapshots(snapshot(theirs), snapshot(ours)), []);
});

const cpio = distributionCpio();
const expectedList = execFileSync('sh', ['-c', 'cpio -t --quiet < "$1"', 'sh', cpio], { maxBuffer: 1 << 28 }).toString();
const oracle = join(work, 'recompress-oracle');
execFileSync('sh', ['-c', 'mkdir -p "$2" && cd "$2" && cpio -idm --quiet < "$1"', 'sh', cpio, oracle]);
const oracleSnap = snapshot(oracle);

for (const name of Object.keys(COMPRESSORS)) {
  t.test(`distribution image recompressed with ${name}`, async (t) => {
    const img = recompressed(name);
    // ls with the default (native where faster) path, extract with the built-in decoder alone
    const r = rdrescue(['ls', img]);
    t.equal(r.status, 0, r.stderr);
    t.ok(r.stdout === expectedList, 'ls equals cpio -t');
    const ours = join(work, `recompress-${name}`);
    await extractImage(img, ours, { native: false });
    t.same(diffSnapshots(oracleSnap, snapshot(ours)), [], 'extract equals cpio -idm (built-in decoder)');
    rmSync(ours, { recursive: true, force: true });
  });
}

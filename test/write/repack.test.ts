// repack: GNU cpio (and each compressor's own program) as the oracle for what
// was written; extract -> repack -> extract round trips; reproducibility.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CODECS, COMPRESSIONS, type Compression } from '../../src/compression/index.js';
import { extractImage } from '../../src/image/extract.js';
import { readImage } from '../../src/image/read.js';
import { repackImage } from '../../src/write/repack.js';
import { fileData } from '../../src/write/tree-source.js';
import { rdrescue } from '../helpers/cli.js';
import { distributionImage, dracutImage } from '../helpers/real-images.js';
import { gnuExtract, makeSampleTree } from '../helpers/sample-tree.js';
import { diffSnapshots, snapshot } from '../helpers/tree.js';

const work = mkdtempSync(join(tmpdir(), 'rdrescue-repack-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

/** Each compressor's own program decompresses what we wrote: the format oracle. */
const DECOMPRESS: Record<Compression | 'none', string[]> = {
  none: ['cat'],
  gzip: ['gzip', '-dc'],
  zstd: ['zstd', '-dc'],
  xz: ['xz', '-dc'],
  lzma: ['xz', '--format=lzma', '-dc'],
  lz4: ['lz4', '-dc'],
  bzip2: ['bzip2', '-dc'],
  lzo: ['lzop', '-dc'],
};

function hasProgram(p: string): boolean {
  return execFileSync('sh', ['-c', `command -v ${p} || true`]).toString().trim() !== '';
}

/** The compressions we can write here: built in, or with their program installed. */
const writable = COMPRESSIONS.filter((c) => !CODECS[c].program || hasProgram(CODECS[c].program!));

function gnuUnpack(image: string, compression: Compression | 'none', dest: string): void {
  const cpio = execFileSync(DECOMPRESS[compression][0], [...DECOMPRESS[compression].slice(1), image], { maxBuffer: 1 << 30 });
  gnuExtract(cpio, dest);
}

const sample = join(work, 'sample');
mkdirSync(sample);
makeSampleTree(sample);

t.test('sample tree with every entry type: GNU cpio extracts the repacked image to the same tree, for every compressor', async (t) => {
  for (const c of ['none' as const, ...writable]) {
    const img = join(work, `sample-${c}.img`);
    await repackImage(sample, img, { compress: c });
    const out = join(work, `sample-${c}.out`);
    gnuUnpack(img, c, out);
    t.same(diffSnapshots(snapshot(sample), snapshot(out)), [], `${c}: same contents, modes, owners, mtimes, links, devices`);
    rmSync(out, { recursive: true, force: true });
  }
  t.ok(writable.includes('gzip') && writable.includes('zstd'), `compressors tested: ${writable.join(', ')}`);
});

t.test('names are stored as dracut and mkinitramfs store them (find . | LC_ALL=C sort | cpio -o): ".", then bare relative names, sorted bytewise', async (t) => {
  const img = join(work, 'names.img');
  await repackImage(sample, img, { compress: 'none' });
  const ours = execFileSync('cpio', ['-t', '--quiet'], { input: readFileSync(img) }).toString();
  // GNU cpio writes those names (it strips "./"), but holds hard-linked files back until their group is complete.
  const sorted = execFileSync('sh', ['-c', 'cd "$1" && find . | LC_ALL=C sort | sed "s|^\\./||"', 'sh', sample]).toString();
  t.equal(ours, sorted);
  t.equal(ours.split('\n')[0], '.');
  const gnu = execFileSync('sh', ['-c', 'cd "$1" && find . | LC_ALL=C sort | cpio -o --quiet -H newc | cpio -t --quiet', 'sh', sample]).toString();
  t.same(ours.split('\n').sort(), gnu.split('\n').sort(), 'the same names as GNU cpio stores');
});

t.test('--format crc: GNU cpio verifies every checksum and extracts the same tree', async (t) => {
  const img = join(work, 'crc.img');
  const r = rdrescue(['repack', sample, '-o', img, '--format', 'crc', '--compress', 'none']);
  t.equal(r.status, 0, r.stderr);
  t.equal(readFileSync(img).subarray(0, 6).toString(), '070702');
  const out = join(work, 'crc.out');
  gnuUnpack(img, 'none', out);
  t.same(diffSnapshots(snapshot(sample), snapshot(out)), []);
  const corrupt = readFileSync(img);
  const at = corrupt.indexOf('PermitRootLogin');
  corrupt[at] ^= 0x20;
  const bad = spawnSync('cpio', ['-i', '--quiet', '--only-verify-crc'], { input: corrupt });
  t.match(bad.stderr.toString(), /checksum error/, 'the oracle does check: a flipped byte is caught');
});

t.test('headers: inodes in order, hard links the newc way (one inode, nlink = names, data on the last name)', async (t) => {
  const img = join(work, 'headers.img');
  await repackImage(sample, img, { compress: 'none' });
  const entries = [];
  for await (const ev of readImage(img)) if (ev.kind === 'entry') entries.push(ev.entry);
  const group = entries.filter((e) => ['usr/bin/busybox', 'usr/bin/ls', 'usr/bin/sh'].includes(e.name));
  t.same(group.map((e) => e.name), ['usr/bin/busybox', 'usr/bin/ls', 'usr/bin/sh']);
  t.ok(group.every((e) => e.ino === group[0].ino && e.nlink === 3), 'one inode, nlink 3');
  t.same(group.map((e) => e.size), [0, 0, 70001], 'data only on the last name');
  const inos = [...new Set(entries.map((e) => e.ino))];
  t.same(inos, inos.map((_, i) => i + 1), 'inode numbers 1, 2, … in archive order');
  const dir = entries.find((e) => e.name === 'usr')!;
  t.equal(dir.nlink, 3, 'directory nlink = 2 + subdirectories (usr/bin)');
});

t.test('reproducible: same tree + SOURCE_DATE_EPOCH gives byte-identical images, whatever the copy; mtimes clamped', async (t) => {
  const sde = 1700000001;
  const copy = join(work, 'sample-copy');
  mkdirSync(copy);
  execFileSync('cp', ['-a', `${sample}/.`, copy]);
  writeFileSync(join(copy, 'etc/new'), 'made now\n');
  writeFileSync(join(sample, 'etc/new'), 'made now\n');
  utimesSync(join(sample, 'etc/new'), 2000000000, 2000000000);
  const a = join(work, 'repro-a.img');
  const b = join(work, 'repro-b.img');
  await repackImage(sample, a, { compress: 'gzip', sourceDateEpoch: sde });
  await repackImage(copy, b, { compress: 'gzip', sourceDateEpoch: sde });
  t.ok(readFileSync(a).equals(readFileSync(b)), 'byte-identical from two copies with different inodes and mtimes after the epoch');
  const mtimes = new Map<string, number>();
  for await (const ev of readImage(a)) if (ev.kind === 'entry') mtimes.set(ev.entry.name, ev.entry.mtime);
  t.equal(mtimes.get('etc/new'), sde, 'a file newer than SOURCE_DATE_EPOCH is stored with it');
  t.equal(mtimes.get('etc/hostname'), 1700000001, 'older mtimes are kept');
  t.ok([...mtimes.values()].every((m) => m <= sde), 'no mtime after SOURCE_DATE_EPOCH');
  rmSync(join(sample, 'etc/new'));
  // The CLI takes it from the environment.
  const c = join(work, 'repro-c.img');
  const r = rdrescue(['repack', copy, '-o', c], { env: { ...process.env, SOURCE_DATE_EPOCH: String(sde) } });
  t.equal(r.status, 0, r.stderr);
  t.ok(readFileSync(c).equals(readFileSync(b)), 'CLI with SOURCE_DATE_EPOCH set: same bytes');
});

t.test('--owner 0:0 stores root for every entry; GNU cpio extracts it so', async (t) => {
  const img = join(work, 'owner.img');
  const r = rdrescue(['repack', sample, '-o', img, '--owner', '0:0', '--compress', 'zstd']);
  t.equal(r.status, 0, r.stderr);
  const out = join(work, 'owner.out');
  gnuUnpack(img, 'zstd', out);
  const snap = snapshot(out);
  t.ok([...snap.values()].every((f) => f.uid === 0 && f.gid === 0));
  t.equal(snap.get('etc/owned')?.uid, 0);
});

t.test('distribution initramfs: extract -> repack -> GNU cpio gives the same tree (none, gzip, zstd)', async (t) => {
  const tree = join(work, 'dist');
  await extractImage(distributionImage(), tree);
  const want = snapshot(tree);
  t.ok(want.size > 500, `${want.size} entries`);
  for (const c of ['none', 'gzip', 'zstd'] as const) {
    const img = join(work, `dist-${c}.img`);
    await repackImage(tree, img, { compress: c });
    const out = join(work, `dist-${c}.out`);
    gnuUnpack(img, c, out);
    t.same(diffSnapshots(want, snapshot(out)), [], c);
    rmSync(out, { recursive: true, force: true });
    rmSync(img);
  }
});

t.test('dracut image: extract -> repack -> extract round trip with every compressor equals', async (t) => {
  const tree = join(work, 'dracut');
  await extractImage(dracutImage('gzip'), tree);
  const want = snapshot(tree, { dirMtimes: true, symlinkMtimes: true });
  for (const c of writable) {
    const img = join(work, `dracut-${c}.img`);
    await repackImage(tree, img, { compress: c });
    const out = join(work, `dracut-${c}.out`);
    await extractImage(img, out);
    t.same(diffSnapshots(want, snapshot(out, { dirMtimes: true, symlinkMtimes: true })), [], c);
    rmSync(out, { recursive: true, force: true });
    rmSync(img);
  }
});

t.test('layout round trip: early + main + main2 repack to the same layout, byte for byte', async (t) => {
  const early = join(work, 'ucode');
  mkdirSync(join(early, 'kernel/x86/microcode'), { recursive: true });
  writeFileSync(join(early, 'kernel/x86/microcode/GenuineIntel.bin'), Buffer.alloc(3001, 7));
  const early2 = join(work, 'ucode2');
  mkdirSync(join(early2, 'kernel/x86/microcode'), { recursive: true });
  writeFileSync(join(early2, 'kernel/x86/microcode/AuthenticAMD.bin'), Buffer.alloc(999, 9));
  const first = join(work, 'layout1.img');
  const sde = { sourceDateEpoch: 1700000002 };
  const rep = await repackImage(sample, first, { compress: 'zstd', early: [early, early2], ...sde });
  t.same(rep.segments.map((s) => s.compression), ['none', 'none', 'zstd']);
  t.ok(rep.segments.every((s) => s.offset % 4 === 0), 'every segment 4-byte aligned');
  t.equal(rep.segments[1].offset % 512, 0, 'early archives padded to 512 bytes, as GNU cpio writes them');
  const x1 = join(work, 'layout1.x');
  await extractImage(first, x1);
  // unmkinitramfs agrees on the layout of what we wrote.
  const u = join(work, 'layout1.u');
  execFileSync('unmkinitramfs', [first, u]);
  t.same(diffSnapshots(snapshot(u), snapshot(x1)), [], 'unmkinitramfs extracts the same early/early2/main');
  const second = join(work, 'layout2.img');
  const rep2 = await repackImage(x1, second, { compress: 'zstd', ...sde });
  t.same(rep2.segments.map((s) => s.dir.slice(x1.length + 1)), ['early', 'early2', 'main']);
  t.ok(readFileSync(first).equals(readFileSync(second)), 'extract then repack reproduces the image byte for byte');

  // A later segment (main2) keeps its place; by default it takes --compress, or --later-compress.
  const extra = join(x1, 'main2');
  mkdirSync(join(extra, 'etc'), { recursive: true });
  writeFileSync(join(extra, 'etc/hostname'), 'overridden\n');
  const third = join(work, 'layout3.img');
  const r = rdrescue(['repack', x1, '-o', third, '--compress', 'gzip', '--later-compress', 'none', '--json']);
  t.equal(r.status, 0, r.stderr);
  t.same(JSON.parse(r.stdout).segments.map((s: { compression: string }) => s.compression), ['none', 'none', 'gzip', 'none']);
  const x3 = join(work, 'layout3.x');
  await extractImage(third, x3);
  // Directory mtimes are left out here: extract does not yet give early/ and main/ the mtime of their "." entry.
  t.same(diffSnapshots(snapshot(x1), snapshot(x3)), [], 'layout with main2 round trips');
  const merged = join(work, 'layout3.m');
  await extractImage(third, merged, { merged: true });
  t.equal(readFileSync(join(merged, 'etc/hostname'), 'utf8'), 'overridden\n', 'main2 is unpacked over main');
});

t.test('OUT inside DIR: the image never archives its own temporary file', async (t) => {
  const dir = join(work, 'self');
  mkdirSync(dir);
  writeFileSync(join(dir, 'a'), 'a\n');
  const r = rdrescue(['repack', '.', '-o', 'self.img', '--compress', 'none'], { cwd: dir });
  t.equal(r.status, 0, r.stderr);
  const names = execFileSync('cpio', ['-t', '--quiet'], { input: readFileSync(join(dir, 'self.img')) }).toString();
  t.equal(names, '.\na\n');
});

t.test('bad input: one clear line, no image left behind', async (t) => {
  const out = join(work, 'bad.img');
  let r = rdrescue(['repack', join(work, 'missing'), '-o', out]);
  t.equal(r.status, 2);
  t.match(r.stderr, /^rdrescue: .*missing: no such directory\n$/);
  r = rdrescue(['repack', sample, '-o', out, '--compress', 'rar']);
  t.equal(r.status, 2);
  t.match(r.stderr, /--compress must be one of none, gzip, zstd/);
  r = rdrescue(['repack', sample, '-o', out, '--owner', 'root']);
  t.equal(r.status, 2);
  r = rdrescue(['repack', sample, '-o', join(work, 'no/such/dir/x.img')]);
  t.equal(r.status, 1);
  t.match(r.stderr, /^rdrescue: cannot write .*x\.img/);
  t.equal(execFileSync('sh', ['-c', `ls -a "${work}" | grep -c rdrescue- || true`]).toString().trim(), '0', 'no temporary file left');
});

t.test('symlink swap: a file replaced by a symlink after the scan is not followed into the image', async (t) => {
  const dir = join(work, 'swap');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'secret'), 'outside the tree\n');
  const file = join(dir, 'file');
  writeFileSync(file, 'scanned as a regular file\n');
  const read = fileData(file);
  // Between the scan and the read, an attacker puts a link to a file outside the tree in its place.
  rmSync(file);
  symlinkSync(join(dir, 'secret'), file);
  t.throws(() => [...read()], { code: 'ELOOP' }, 'the open refuses to follow the link');
});

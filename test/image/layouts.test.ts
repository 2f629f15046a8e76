// Multi-segment images the way the kernel reads them, checked segment by
// segment against GNU cpio, and against unmkinitramfs for the layout it knows.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extractImage, layoutName } from '../../src/image/extract.js';
import { imageInfo } from '../../src/image/info.js';
import { rdrescue } from '../helpers/cli.js';
import { archiveOf, compressWith, gnuExtract, makeSampleTree, microcodeTree, padTo } from '../helpers/sample-tree.js';
import { diffSnapshots, snapshot } from '../helpers/tree.js';

const work = mkdtempSync(join(tmpdir(), 'rdrescue-layouts-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

const tree = (name: string, fill: (root: string) => void) => archiveOf(join(work, 'trees', name), fill);

const microcode = tree('early', microcodeTree('GenuineIntel', 3000));
const amd = tree('early2', microcodeTree('AuthenticAMD', 1000));
const main = tree('main', makeSampleTree);
const extra = tree('extra', (r) => {
  mkdirSync(join(r, 'etc'));
  writeFileSync(join(r, 'etc/hostname'), 'overridden\n');
  writeFileSync(join(r, 'etc/added'), 'appended later\n');
});
const gz = (b: Buffer) => compressWith(['gzip', '-9', '-n'], b);
const zst = (b: Buffer) => compressWith(['zstd', '-q', '-c'], b);

/** [intel early][amd early][gzip main][uncompressed extra][zstd extra]: every rule at once. */
const parts = [padTo(microcode, 512), padTo(amd, 4), padTo(gz(main), 4), padTo(extra, 4), zst(extra)];
const multi = join(work, 'multi.img');
writeFileSync(multi, Buffer.concat(parts));
const plain = [microcode, amd, main, extra, extra];

t.test('ls prints cpio -t of each segment in turn', async (t) => {
  const expected = plain.map((p) => execFileSync('cpio', ['-t', '--quiet'], { input: p }).toString()).join('');
  const r = rdrescue(['ls', multi]);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, expected);
});

t.test('info reports every segment with offsets, compression and sizes', async (t) => {
  const i = await imageInfo(multi);
  const offsets = parts.map((_, k) => parts.slice(0, k).reduce((a, p) => a + p.length, 0));
  t.same(
    i.segments.map((s) => [s.offset, s.compression, s.format]),
    [
      [offsets[0], 'none', 'newc'],
      [offsets[1], 'none', 'newc'],
      [offsets[2], 'gzip', 'newc'],
      [offsets[3], 'none', 'newc'],
      [offsets[4], 'zstd', 'newc'],
    ],
  );
  // An uncompressed segment ends at its trailer; cpio's block padding after it is zero padding.
  i.segments.forEach((s, k) => {
    t.ok(s.uncompressedBytes <= plain[k].length && plain[k].subarray(s.uncompressedBytes).every((b) => b === 0), `segment ${k} size`);
  });
  t.equal(i.segments[2].uncompressedBytes, main.length, 'decompressed size of the gzip member');
  t.same(i.microcode.map((m) => m.vendor), ['Intel', 'AMD']);
  const j = JSON.parse(rdrescue(['info', '--json', multi]).stdout);
  t.equal(j.segments.length, 5);
});

t.test('extract uses the unmkinitramfs layout, each segment equal to cpio -idm', async (t) => {
  const dest = join(work, 'layout');
  const r = rdrescue(['extract', multi, dest]);
  t.equal(r.status, 0, r.stderr);
  const names = ['early', 'early2', 'main', 'main2', 'main3'];
  names.forEach((n, i) => {
    const oracle = join(work, 'oracle-' + n);
    gnuExtract(plain[i], oracle);
    t.same(diffSnapshots(snapshot(oracle), snapshot(join(dest, n))), [], n);
  });
  t.same(layoutName([{ compression: 'zstd' }], 0), 'main');
  t.equal(Math.floor(statSync(join(dest, 'main')).mtimeMs / 1000), 1700000003, 'main/ carries the archive\'s "." mtime');
});

t.test('--merged gives the tree the kernel would see: later segments win', async (t) => {
  const dest = join(work, 'merged');
  await extractImage(multi, dest, { merged: true });
  const oracle = join(work, 'oracle-merged');
  for (const p of plain) gnuExtract(p, oracle);
  t.same(diffSnapshots(snapshot(oracle), snapshot(dest)), []);
  const cat = rdrescue(['cat', multi, 'etc/hostname', '/etc/added']);
  t.equal(cat.stdout, 'overridden\nappended later\n', 'cat: last copy wins');
});

t.test('early + main layout equals unmkinitramfs', async (t) => {
  const img = join(work, 'early-main.img');
  writeFileSync(img, Buffer.concat([padTo(microcode, 512), zst(main)]));
  const theirs = join(work, 'unmk');
  execFileSync('unmkinitramfs', [img, theirs]);
  const ours = join(work, 'ours-em');
  await extractImage(img, ours);
  t.same(diffSnapshots(snapshot(theirs), snapshot(ours)), []);
});

t.test('one segment extracts straight into DIR, replacing what is there', async (t) => {
  const img = join(work, 'one.img');
  writeFileSync(img, gz(main));
  const dest = join(work, 'one');
  mkdirSync(join(dest, 'etc'), { recursive: true });
  writeFileSync(join(dest, 'etc/hostname'), 'old\n');
  await extractImage(img, dest);
  const oracle = join(work, 'oracle-one');
  gnuExtract(main, oracle);
  t.same(diffSnapshots(snapshot(oracle), snapshot(dest)), []);
});

t.test('hard links in a gzip member keep one inode (bsdtar corrupts these)', async (t) => {
  const dest = join(work, 'links');
  await extractImage(multi, dest, { patterns: ['usr/bin/*'], merged: true });
  const s = snapshot(dest);
  t.equal(s.get('usr/bin/sh')?.linkGroup, s.get('usr/bin/busybox')?.linkGroup);
  t.equal(s.get('usr/bin/sh')?.size, 70001);
});

t.test('a hard-link name asked for by cat gets the data stored on the last name', async (t) => {
  const r = rdrescue(['cat', multi, 'usr/bin/ls']);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdoutBuf.length, 70001);
});

t.test('glob patterns select entries as stored or normalised', async (t) => {
  const expected = plain.map((p) => execFileSync('cpio', ['-t', '--quiet', 'kernel/*', '*.bin'], { input: p }).toString()).join('');
  const r = rdrescue(['ls', multi, 'kernel/*', '*.bin']);
  t.equal(r.stdout, expected, 'same selection as cpio -t with the same patterns');
  t.match(r.stdout, /GenuineIntel\.bin\n/);
});

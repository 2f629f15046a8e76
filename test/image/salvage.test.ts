// Damaged images: archives made by GNU cpio, bsdtar and busybox, cut at many
// points (raw and compressed) or with flipped bytes. The oracle is GNU cpio,
// which lists and extracts every entry before the damage and then reports it:
// rdrescue must show and write the same entries, fail with exit 3 and one
// error line naming segment and offset, and leave no directory at 0700.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { rdrescue } from '../helpers/cli.js';
import { genInitCpio } from '../helpers/gen-init-cpio.js';
import { busyboxCpio, bsdtarCpio, compressWith, gnuCpio, makeSampleTree } from '../helpers/sample-tree.js';
import { snapshot } from '../helpers/tree.js';

const work = mkdtempSync(join(tmpdir(), 'rdrescue-salvage-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const src = join(work, 'src');
makeSampleTree(src);
const source = snapshot(src, { dirMtimes: true });

function image(name: string, bytes: Buffer): string {
  const p = join(work, name);
  writeFileSync(p, bytes);
  return p;
}

/** What GNU cpio lists from a (possibly cut) archive before it gives up. */
const cpioList = (bytes: Buffer) => spawnSync('cpio', ['-t', '--quiet'], { input: bytes }).stdout.toString();

const archivers: Array<[string, Buffer]> = [
  ['GNU cpio', gnuCpio(src)],
  ['bsdtar', bsdtarCpio(src)],
  ['busybox', busyboxCpio(src)],
];

for (const [label, raw] of archivers) {
  t.test(`${label} archive cut at many points: ls lists what cpio -t lists, extract writes every complete entry, exit 3`, async (t) => {
    const end = raw.lastIndexOf('TRAILER!!!') - 110;
    const cuts = [111, 300, 777, 1200, 2500, 9000, 40000, 60000, 80000, end - 1, end + 5].filter((c) => c < end + 10);
    for (const cut of cuts) {
      const bytes = raw.subarray(0, cut);
      const img = image(`${label.replace(/\W/g, '')}-${cut}.cpio`, bytes);
      const ls = rdrescue(['ls', img]);
      t.equal(ls.status, 3, `cut at ${cut}`);
      t.equal(ls.stdout, cpioList(bytes), `cut at ${cut}: ls equals cpio -t`);
      const lines = ls.stderr.trim().split('\n');
      t.equal(lines.length, 1, ls.stderr);
      t.match(lines[0], /: segment 0: offset \d+: /, 'names segment and offset');
      const dest = join(work, `x-${label.replace(/\W/g, '')}-${cut}`);
      const x = rdrescue(['extract', img, dest]);
      t.equal(x.status, 3);
      t.equal(x.stderr, ls.stderr, 'the same one error line');
      const ours = snapshot(dest, { dirMtimes: true });
      const listed = ls.stdout.split('\n').filter((n) => n && n !== '.').map((n) => n.replace(/^\.\//, ''));
      for (const [rel, f] of ours) {
        const want = source.get(rel);
        t.ok(want, `${rel} is from the archive`);
        if (f.type === 'file') t.equal(f.sha256, want!.size === f.size ? want!.sha256 : f.sha256, `${rel} complete`);
        if (f.type === 'file' && want!.size !== f.size) t.equal(f.size, 0, `${rel}: only a hard link whose data comes later is empty`);
        if (f.type === 'dir') t.equal(f.mode & 0o7777, want!.mode & 0o7777, `${rel}: final mode, not 0700`);
        if (f.type === 'dir') t.equal(f.mtime, want!.mtime, `${rel}: final mtime (dir_utime)`);
      }
      // every listed entry but the last (which the cut may go through) was written
      for (const rel of listed.slice(0, -1)) t.ok(ours.has(rel), `cut at ${cut}: ${rel} written`);
    }
  });
}

t.test('compressed archives cut at many points: what ls lists is what cpio -t lists from the decompressed prefix', async (t) => {
  const raw = gnuCpio(src);
  for (const [label, full] of [
    ['gzip', compressWith(['gzip', '-n'], raw)],
    ['zstd', compressWith(['zstd', '-q', '-c'], raw)],
  ] as const) {
    for (const frac of [0.1, 0.3, 0.5, 0.7, 0.9]) {
      const cut = Math.floor(full.length * frac);
      const bytes = full.subarray(0, cut);
      const img = image(`c-${label}-${cut}.img`, bytes);
      const ls = rdrescue(['ls', img]);
      t.equal(ls.status, 3, `${label} cut at ${cut}`);
      t.match(ls.stderr, /segment 0: offset \d+: /);
      const prefix = spawnSync(label, ['-dc'], { input: bytes }).stdout;
      const theirs = cpioList(prefix).split('\n').filter(Boolean);
      const ours = ls.stdout.split('\n').filter(Boolean);
      t.same(ours, theirs.slice(0, ours.length), 'a prefix of what cpio lists');
      // the entry the cut goes through may be listed by one and not the other
      t.ok(ours.length >= theirs.length - 1, `${label} at ${cut}: ${ours.length} of ${theirs.length} listed`);
    }
  }
});

t.test('xz cut late: the entries decoded before the cut are listed, by the xz program and the built-in decoder alike', async (t) => {
  const tree = join(work, 'xz-tree');
  mkdirSync(join(tree, 'a'), { recursive: true });
  for (let i = 0; i < 8; i++) writeFileSync(join(tree, 'a', `f${i}`), `small ${i}\n`);
  writeFileSync(join(tree, 'b.bin'), randomBytes(400000));
  mkdirSync(join(tree, 'c'));
  writeFileSync(join(tree, 'c/last'), 'last\n');
  const full = compressWith(['xz', '--check=crc32', '-c'], gnuCpio(tree));
  const ls = rdrescue(['ls', image('late.xz', full.subarray(0, full.length - 1000))]);
  t.equal(ls.status, 3);
  t.match(ls.stdout, /^\.\na\n(a\/f\d\n){8}b\.bin\n/, 'everything up to the big file');
  const builtIn = rdrescue(['ls', '--no-native', image('late.xz', full.subarray(0, full.length - 1000))]);
  t.equal(builtIn.status, 3);
  t.equal(builtIn.stdout, ls.stdout, 'the built-in decoder lists the same: the LZMA2 chunk the cut goes through is decoded up to the cut');
});

t.test('a later segment cut short: the complete segments are listed and extracted whole; info says how far the cut one was read', async (t) => {
  const a = gzipSync(gnuCpio(src));
  const b = gzipSync(gnuCpio(src));
  const full = Buffer.concat([a, b, gzipSync(gnuCpio(src))]);
  const img = image('three.img', full.subarray(0, a.length + b.length + 4000));
  const ls = rdrescue(['ls', img]);
  t.equal(ls.status, 3);
  const one = cpioList(gnuCpio(src));
  t.ok(ls.stdout.startsWith(one + one), 'two whole segments listed');
  t.match(ls.stderr, /segment 2: offset \d+: /);
  const info = rdrescue(['info', '--json', img]);
  t.equal(info.status, 3);
  const j = JSON.parse(info.stdout);
  t.equal(j.segments.length, 3);
  t.notOk(j.segments[0].damage);
  t.ok(j.segments[2].damage.cpioBytes > 0, 'bytes read before the damage');
  t.match(j.segments[2].damage.message, /segment 2/);
  t.match(j.stopped, /segment 2/);
  const text = rdrescue(['info', img]);
  t.match(text.stdout, /segment 2 read up to byte \d+ of its cpio data \(\d+ entries\), then: /);
  const dest = join(work, 'three');
  t.equal(rdrescue(['extract', img, dest]).status, 3);
  t.same([...snapshot(join(dest, 'main'))].map(([k, v]) => [k, v.sha256]), [...source].map(([k, v]) => [k, v.sha256]), 'main complete');
  t.same([...snapshot(join(dest, 'main2'))].map(([k, v]) => [k, v.sha256]), [...source].map(([k, v]) => [k, v.sha256]), 'main2 complete');
  t.ok(existsSync(join(dest, 'main3')), 'what main3 had before the cut');
  t.notOk(existsSync(join(dest, `.rdrescue-partial-${process.pid}`)));
});

t.test('bad crc checksum: extract warns naming the file, writes every file as cpio -idm does, and exits 3; --strict stops there', async (t) => {
  const buf = gnuCpio(src, 'crc');
  buf[buf.indexOf('PermitRootLogin')] ^= 0x20;
  const img = image('badcrc.cpio', buf);
  const dest = join(work, 'badcrc');
  const x = rdrescue(['extract', img, dest]);
  t.equal(x.status, 3);
  t.match(x.stderr, /warning: .*entry "etc\/ssh\/sshd_config": crc checksum mismatch/);
  t.match(x.stderr, /1 damaged entry/);
  const theirs = join(work, 'badcrc-cpio');
  mkdirSync(theirs);
  const g = spawnSync('cpio', ['-idm', '--quiet'], { cwd: theirs, input: buf });
  t.match(g.stderr.toString(), /checksum error/, 'GNU cpio warns too');
  t.same([...snapshot(dest).keys()], [...snapshot(theirs).keys()], 'the same entries as GNU cpio');
  const strictDest = join(work, 'badcrc-strict');
  const s = rdrescue(['extract', '--strict', img, strictDest]);
  t.equal(s.status, 3);
  t.equal(s.stderr.trim().split('\n').length, 1);
  t.ok(existsSync(join(strictDest, 'etc/hostname')), 'entries before it kept');
  t.notOk(existsSync(join(strictDest, 'usr')), 'nothing after it');
  // cat reads only the files it prints: the damaged one is seeked over, unchecked, unless --verify (docs/reading.md).
  const cat = rdrescue(['cat', img, 'etc/hostname']);
  t.equal(cat.status, 0, cat.stderr);
  t.equal(cat.stdout, 'rescue\n');
  const verified = rdrescue(['cat', '--verify', img, 'etc/hostname']);
  t.equal(verified.status, 3);
  t.match(verified.stderr, /warning: .*entry "etc\/ssh\/sshd_config": crc checksum mismatch/);
  t.equal(verified.stdout, 'rescue\n');
});

t.test('cat on a cut image prints the files complete before the cut, then fails; a file cut in its data is never printed', async (t) => {
  const raw = gnuCpio(src);
  const at = raw.indexOf('PermitRootLogin') + 100;
  const img = image('catcut.cpio', raw.subarray(0, at));
  const r = rdrescue(['cat', img, 'etc/hostname', 'etc/ssh/sshd_config']);
  t.equal(r.status, 3);
  t.equal(r.stdout, 'rescue\n');
  t.match(r.stderr, /truncated data: .*sshd_config/);
});

t.test('salvage never writes outside DIR or through a link: a cut image behind a planted link, and an escape before the cut', async (t) => {
  const outside = join(work, 'salv-outside');
  mkdirSync(outside);
  const raw = gnuCpio(src);
  const dest = join(work, 'salv-planted');
  mkdirSync(dest);
  symlinkSync(outside, join(dest, 'etc'));
  const img = image('salv.cpio', raw.subarray(0, raw.indexOf('PermitRootLogin') + 100));
  t.equal(rdrescue(['extract', img, dest]).status, 3);
  t.same(execFileSync('ls', ['-A', outside]).toString(), '', 'nothing written through the planted link');
  t.ok(lstatSync(join(dest, 'etc')).isDirectory(), 'the link was replaced');
  const merged = join(work, 'salv-merged');
  mkdirSync(merged);
  symlinkSync(outside, join(merged, 'etc'));
  const m = rdrescue(['extract', '--merged', img, merged]);
  t.equal(m.status, 3, m.stderr);
  t.ok(lstatSync(join(merged, 'etc')).isDirectory(), 'the etc entry replaced the link');
  t.same(execFileSync('ls', ['-A', outside]).toString(), '');
  writeFileSync(join(work, 'pwned'), 'pwned\n');
  const escape = genInitCpio(`slink /evil ${outside} 0777 0 0\nfile /evil/pwned ${join(work, 'pwned')} 0644 0 0\nfile /z ${join(work, 'pwned')} 0644 0 0\n`, { mtime: 1700000000 });
  const cut = image('escape-cut.cpio', escape.subarray(0, escape.indexOf('TRAILER!!!') - 50));
  const e = rdrescue(['extract', cut, join(work, 'salv-escape')]);
  t.equal(e.status, 4, 'the escape is refused before the damage is reached');
  t.match(e.stderr, /symlink/);
  t.same(execFileSync('ls', ['-A', outside]).toString(), '', 'nothing written outside');
});

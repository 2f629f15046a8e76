// Hostile and broken images. Each attack has its own test, named after it.
// The rule: a one-line error naming the file (and offset), a non-zero exit,
// and nothing written outside the destination.
import t, { type Test } from 'tap';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { formatHeader } from '../../src/cpio/header.js';
import { writeArchive, type WriteEntry } from '../../src/cpio/writer.js';
import { rdrescue } from '../helpers/cli.js';
import { compressWith, gnuCpio, makeSampleTree } from '../helpers/sample-tree.js';

const work = mkdtempSync(join(tmpdir(), 'rdrescue-hostile-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

let n = 0;
async function archive(entries: Array<Partial<WriteEntry> & { name: string }>): Promise<Buffer> {
  const full: WriteEntry[] = entries.map((e) => {
    const data = e.data ?? (e.type === 'symlink' ? undefined : undefined);
    return { type: 'file', perm: 0o644, uid: 0, gid: 0, mtime: 1700000000, ino: ++n, nlink: 1, size: 0, ...e, data } as WriteEntry;
  });
  const out: Buffer[] = [];
  for await (const c of writeArchive(full)) out.push(c);
  return Buffer.concat(out);
}
const text = (s: string) => ({ size: Buffer.byteLength(s), data: () => [Buffer.from(s)] });
const link = (name: string, target: string) => ({ name, type: 'symlink' as const, perm: 0o777, ...text(target) });

function image(name: string, bytes: Buffer): string {
  const p = join(work, name);
  writeFileSync(p, bytes);
  return p;
}

/** Runs extract and returns the result plus a listing of `outside`, which must stay empty. */
function extractInto(img: string, dest: string, extra: string[] = []) {
  return rdrescue(['extract', img, dest, ...extra], { timeout: 60000 });
}

function oneLine(t: Test, stderr: string, file: string) {
  const lines = stderr.trim().split('\n');
  t.equal(lines.length, 1, `one line: ${stderr}`);
  t.match(lines[0], new RegExp(`^rdrescue: ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`), 'names the file');
  t.notMatch(stderr, /\n\s+at /, 'no stack trace');
}

t.test('path traversal: ../ and absolute names stay inside DIR (cpio --no-absolute-filenames)', async (t) => {
  const dir = join(work, 'trav');
  const outside = join(work, 'trav-outside');
  mkdirSync(join(outside), { recursive: true });
  const img = image(
    'trav.cpio',
    await archive([
      { name: '../../trav-outside/dotdot', ...text('x') },
      { name: `${outside}/absolute`, ...text('x') },
      { name: 'a/../../../trav-outside/middle', ...text('x') },
    ]),
  );
  const r = extractInto(img, join(dir, 'dest'));
  t.equal(r.status, 0, r.stderr);
  t.same(existsSync(join(outside, 'dotdot')) || existsSync(join(outside, 'absolute')) || existsSync(join(outside, 'middle')), false, 'nothing outside');
  t.ok(existsSync(join(dir, 'dest/trav-outside/dotdot')));
  t.ok(existsSync(join(dir, 'dest', outside, 'absolute')));
  t.ok(existsSync(join(dir, 'dest/trav-outside/middle')));
});

t.test('symlink escape: a file through a symlink the archive created is refused', async (t) => {
  const outside = join(work, 'sym-outside');
  mkdirSync(outside);
  const img = image('symesc.cpio', await archive([link('evil', outside), { name: 'evil/pwned', ...text('pwned') }]));
  const r = extractInto(img, join(work, 'symesc'));
  t.equal(r.status, 4, 'refused');
  oneLine(t, r.stderr, img);
  t.match(r.stderr, /symlink/);
  t.notOk(existsSync(join(outside, 'pwned')), 'nothing written outside');
});

t.test('symlink escape: a relative ../ symlink as a parent is refused', async (t) => {
  const img = image('symrel.cpio', await archive([link('up', '../../../../../../tmp'), { name: 'up/rdrescue-pwned', ...text('pwned') }]));
  const r = extractInto(img, join(work, 'symrel'));
  t.equal(r.status, 4);
  t.notOk(existsSync('/tmp/rdrescue-pwned'));
});

t.test('symlink escape across segments: a link from one segment, a file through it in the next (--merged)', async (t) => {
  const outside = join(work, 'seg-outside');
  mkdirSync(outside);
  const first = await archive([link('etc', outside)]);
  const second = gzipSync(await archive([{ name: 'etc/shadow', ...text('root::0:0:::::\n') }]));
  const img = image('segs.img', Buffer.concat([first, second]));
  const r = extractInto(img, join(work, 'segs'), ['--merged']);
  t.equal(r.status, 4);
  t.notOk(existsSync(join(outside, 'shadow')));
});

t.test('planted symlink in DIR: an existing link at a file name is replaced, not written through', async (t) => {
  const victim = join(work, 'victim');
  writeFileSync(victim, 'precious\n');
  const dest = join(work, 'planted');
  mkdirSync(join(dest, 'etc'), { recursive: true });
  symlinkSync(victim, join(dest, 'etc/hostname'));
  const img = image('planted.cpio', await archive([{ name: 'etc', type: 'dir', perm: 0o755 }, { name: 'etc/hostname', ...text('new\n') }]));
  const r = extractInto(img, dest);
  t.equal(r.status, 0, r.stderr);
  t.equal(readFileSync(victim, 'utf8'), 'precious\n', 'victim untouched');
  t.ok(lstatSync(join(dest, 'etc/hostname')).isFile());
});

t.test('planted symlink in DIR: a linked parent directory is never followed', async (t) => {
  const outside = join(work, 'parent-outside');
  mkdirSync(outside);
  const img = image('planted-parent.cpio', await archive([{ name: 'etc/passwd', ...text('x') }]));
  // --merged writes straight into DIR: the planted link is refused as a parent
  const merged = join(work, 'planted-parent-merged');
  mkdirSync(merged);
  symlinkSync(outside, join(merged, 'etc'));
  const r = extractInto(img, merged, ['--merged']);
  t.equal(r.status, 4, r.stderr);
  t.notOk(existsSync(join(outside, 'passwd')));
  // a one-segment extract stages the tree and then replaces the planted link
  const staged = join(work, 'planted-parent-staged');
  mkdirSync(staged);
  symlinkSync(outside, join(staged, 'etc'));
  t.equal(extractInto(img, staged).status, 0);
  t.notOk(existsSync(join(outside, 'passwd')));
  t.ok(lstatSync(join(staged, 'etc')).isDirectory(), 'link replaced by a real directory');
  // with a directory entry first, the link is replaced too
  const withDir = join(work, 'planted-parent-dir');
  mkdirSync(withDir);
  symlinkSync(outside, join(withDir, 'etc'));
  const img2 = image('planted-parent2.cpio', await archive([{ name: 'etc', type: 'dir', perm: 0o755 }, { name: 'etc/passwd', ...text('x') }]));
  t.equal(extractInto(img2, withDir, ['--merged']).status, 0);
  t.notOk(existsSync(join(outside, 'passwd')));
  t.ok(lstatSync(join(withDir, 'etc')).isDirectory());
});

t.test('planted symlink in DIR: a layout directory (early, main) planted as a link is refused, never written through', async (t) => {
  const early = await archive([{ name: 'kernel/x86/microcode/GenuineIntel.bin', ...text('ucode') }]);
  const main = gzipSync(await archive([{ name: 'etc/fstab', ...text('x') }]));
  const img = image('two-segments.img', Buffer.concat([early, main]));
  for (const planted of ['early', 'main']) {
    const outside = join(work, `layout-outside-${planted}`);
    mkdirSync(outside);
    const dest = join(work, `layout-planted-${planted}`);
    mkdirSync(dest);
    symlinkSync(outside, join(dest, planted));
    const r = extractInto(img, dest);
    t.equal(r.status, 4, r.stderr);
    t.match(r.stderr, new RegExp(`^rdrescue: refusing to extract into .*/${planted}: it is a symlink`));
    t.same(readdirSync(outside), [], `nothing written through DIR/${planted}`);
  }
});

t.test('decompression bomb: --max-output stops a member that expands without end', async (t) => {
  const big = await archive([{ name: 'zeros', size: 64 << 20, data: function* () { for (let i = 0; i < 64; i++) yield Buffer.alloc(1 << 20); } }]);
  const img = image('bomb.img', gzipSync(big, { level: 9 }));
  t.ok(readFileSync(img).length < 200000, 'small on disk');
  const r = extractInto(img, join(work, 'bomb'), ['--max-output', String(8 << 20)]);
  t.equal(r.status, 3);
  oneLine(t, r.stderr, img);
  t.match(r.stderr, /max|limit|bomb/i);
});

t.test('truncated images: every cut gives one line with file and offset, never a hang', async (t) => {
  const src = join(work, 'trunc-src');
  makeSampleTree(src);
  const raw = gnuCpio(src);
  const forms: Array<[string, Buffer]> = [
    ['none', raw],
    ['gzip', compressWith(['gzip', '-n'], raw)],
    ['zstd', compressWith(['zstd', '-q', '-c'], raw)],
  ];
  for (const [label, full] of forms) {
    // the trailer is the last thing in the data; cutting anywhere before it must fail
    const end = label === 'none' ? raw.lastIndexOf('TRAILER!!!') : full.length;
    for (const cut of [1, 7, 111, 500, Math.floor(end / 2), end - 1]) {
      const img = image(`trunc-${label}-${cut}.img`, full.subarray(0, cut));
      const r = rdrescue(['ls', img], { timeout: 30000 });
      t.equal(r.status, 3, `${label} cut at ${cut}: ${r.stderr}`);
      oneLine(t, r.stderr, img);
      t.match(r.stderr, /offset \d+|at byte \d+/, 'names the offset');
    }
  }
});

t.test('bad input: empty, all zeros, garbage, odc, bad hex, sizes past the end, unaligned archive', async (t) => {
  const good = await archive([{ name: 'a', ...text('hello') }]);
  const badHex = Buffer.from(good);
  badHex.write('zz', 20, 'latin1');
  const gz = gzipSync(good);
  let k = 1;
  while ((gz.length + k) % 4 === 0) k++;
  const past = formatHeader({ name: 'big', mode: 0o100644, uid: 0, gid: 0, nlink: 1, mtime: 0, size: 0x7fffffff, ino: 1, devMajor: 0, devMinor: 0, rdevMajor: 0, rdevMinor: 0, check: 0 });
  const cases: Array<[string, Buffer, RegExp]> = [
    ['empty', Buffer.alloc(0), /empty file/],
    ['zeros', Buffer.alloc(4096), /only zero bytes/],
    ['garbage', Buffer.from('this is not an initramfs at all, just text\n'), /unknown data \(bytes 74 68 69 73/],
    ['odc', Buffer.from('070707' + '0'.repeat(70)), /odc/],
    ['badhex', badHex, /bad hex digit/],
    ['past-end', Buffer.concat([past, Buffer.alloc(100, 0x41)]), /truncated data: big needs 2147483647 bytes/],
    ['unaligned', Buffer.concat([gz, Buffer.alloc(k), good]), /not 4-byte aligned/],
  ];
  for (const [label, bytes, why] of cases) {
    const img = image(`bad-${label}.img`, bytes);
    const r = rdrescue(['ls', img], { timeout: 30000 });
    t.equal(r.status, 3, `${label}: ${r.stderr}`);
    oneLine(t, r.stderr, img);
    t.match(r.stderr, why, label);
  }
  const missing = rdrescue(['ls', join(work, 'does-not-exist.img')]);
  t.equal(missing.status, 3);
  t.match(missing.stderr, /does-not-exist\.img: no such file/);
  const isDir = rdrescue(['info', work]);
  t.match(isDir.stderr, /is a directory/);
});

t.test('replacing a non-empty directory with a file is refused, not forced', async (t) => {
  const dest = join(work, 'nonempty');
  mkdirSync(join(dest, 'etc/keep'), { recursive: true });
  const img = image('nonempty.cpio', await archive([{ name: 'etc', ...text('file where a dir is') }]));
  const r = extractInto(img, dest);
  t.equal(r.status, 4);
  t.equal(r.stderr, `rdrescue: cannot replace non-empty directory ${JSON.stringify(join(dest, 'etc'))} with an entry of the image that is not a directory\n`);
  t.ok(existsSync(join(dest, 'etc/keep')));
  t.same(readdirSync(dest), ['etc'], 'nothing staged is left');
});

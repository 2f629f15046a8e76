// diff between real images; GNU cpio extractions and diff -u as oracles.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { catFiles } from '../../src/image/cat.js';
import { diffImages } from '../../src/write/diff.js';
import { unifiedDiff } from '../../src/write/unified-diff.js';
import { rdrescue } from '../helpers/cli.js';
import { dracutImage, installedKernel, mkinitramfsImage } from '../helpers/real-images.js';
import { snapshot } from '../helpers/tree.js';
import { PassThrough } from 'node:stream';

const work = mkdtempSync(join(tmpdir(), 'rdrescue-diff-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

async function cat(image: string, path: string): Promise<string> {
  const s = new PassThrough();
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  await catFiles(image, [path], s);
  return Buffer.concat(chunks).toString('utf8');
}

const base = mkinitramfsImage();
const note = join(work, 'note.conf');
writeFileSync(note, 'RESCUE=yes\n');
const plus = join(work, 'plus.img');
const add = rdrescue(['add', base, '-o', plus, `${note}:/etc/rdrescue-test.conf`]);
if (add.status !== 0) throw new Error(add.stderr);

t.test('mkinitramfs image vs the same with one file added: exactly that file, exit 1', async (t) => {
  const r = rdrescue(['diff', base, plus]);
  t.equal(r.status, 1, r.stderr);
  t.match(r.stdout, /^\+ etc\/rdrescue-test\.conf {2}\(file, 0644, 0:0, 11 bytes\)\n0 added|^\+ etc\/rdrescue-test\.conf/);
  t.match(r.stdout, /\n1 added, 0 removed, 0 changed\n$/);
  const back = rdrescue(['diff', plus, base]);
  t.match(back.stdout, /^- etc\/rdrescue-test\.conf .*\n0 added, 1 removed, 0 changed\n$/);
});

t.test('--json shape', async (t) => {
  const r = rdrescue(['diff', '--json', base, plus]);
  t.equal(r.status, 1);
  const j = JSON.parse(r.stdout);
  t.same(Object.keys(j).sort(), ['a', 'b', 'changes', 'summary']);
  t.same(j.summary, { added: 1, removed: 0, changed: 0 });
  t.equal(j.changes.length, 1);
  const c = j.changes[0];
  t.equal(c.path, 'etc/rdrescue-test.conf');
  t.equal(c.status, 'added');
  t.same(c.b, {
    type: 'file',
    mode: '0644',
    uid: 0,
    gid: 0,
    size: 11,
    sha256: execFileSync('sha256sum', [note]).toString().split(' ')[0],
  });
});

t.test('an image against itself: no output but the summary, exit 0', async (t) => {
  const r = rdrescue(['diff', base, base]);
  t.equal(r.status, 0);
  t.equal(r.stdout, '0 added, 0 removed, 0 changed\n');
});

t.test('--content: a changed text file in a later segment shows as diff -u shows it', async (t) => {
  const old = await cat(base, 'scripts/functions');
  const lines = old.split('\n');
  t.ok(lines.length > 8, 'a real multi-line file');
  lines[2] = 'CHANGED=by rdrescue test';
  lines.splice(lines.length - 2, 0, 'ADDED=line');
  const edited = join(work, 'functions');
  writeFileSync(edited, lines.join('\n'));
  const changed = join(work, 'changed.img');
  const a = rdrescue(['add', base, '-o', changed, `${edited}:/scripts/functions`]);
  t.equal(a.status, 0, a.stderr);
  const r = rdrescue(['diff', '--content', base, changed]);
  t.equal(r.status, 1);
  t.match(r.stdout, /^~ scripts\/functions {2}.*sha256 /m, 'changed, not added: the merged view lets the later segment win');
  const orig = join(work, 'orig.conf');
  writeFileSync(orig, old);
  const gnu = spawnSync('diff', ['-u', orig, edited], { encoding: 'utf8' }).stdout.split('\n').slice(2).join('\n');
  t.ok(r.stdout.includes('--- a/scripts/functions\n+++ b/scripts/functions\n' + gnu), 'hunks identical to diff -u');
  t.match(r.stdout, /\n0 added, 0 removed, 1 changed\n$/);
});

t.test('unified diff matches diff -u on edge cases', async (t) => {
  const cases: Array<[string, string]> = [
    ['', 'a\nb\n'],
    ['a\nb\n', ''],
    ['a\nb\nc', 'a\nb\nc\n'],
    ['1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n16\n17\n18\n19\n20\n', '1\n2\nX\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n16\n17\nY\n19\n20\n'],
    ['1\n2\n3\n4\n5\n6\n7\n8\n9\n', '1\n2\nX\n4\n5\n6\n7\n8\nY\n'],
    ['same\n', 'same\n'],
  ];
  for (const [i, [x, y]] of cases.entries()) {
    const fa = join(work, `u${i}a`);
    const fb = join(work, `u${i}b`);
    writeFileSync(fa, x);
    writeFileSync(fb, y);
    const gnu = spawnSync('diff', ['-u', '--label', 'A', '--label', 'B', fa, fb], { encoding: 'utf8' }).stdout;
    t.equal(unifiedDiff(x, y, 'A', 'B'), gnu, `case ${i}`);
  }
});

t.test('two dracut module sets: exactly the differences GNU cpio extractions show', async (t) => {
  const a = dracutImage('no-compress');
  const b = join(work, 'dracut-b.img');
  execFileSync(
    'dracut',
    ['--quiet', '--force', '--no-hostonly', '--no-hostonly-cmdline', '--kver', installedKernel(), '-m', 'base rootfs-block kernel-modules dm', '--drivers', 'virtio_blk virtio_pci ext4 dm_mod', '--no-compress', '--no-early-microcode', b],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const unpack = (img: string, dir: string) => {
    mkdirSync(dir);
    execFileSync('sh', ['-c', 'cd "$1" && cpio -idm --quiet < "$2"', 'sh', dir, img]);
    const snap = snapshot(dir);
    return new Map([...snap].map(([k, v]) => [k, JSON.stringify({ type: v.type, mode: v.mode, uid: v.uid, gid: v.gid, size: v.size, sha256: v.sha256, target: v.target, rdev: v.rdev })]));
  };
  const sa = unpack(a, join(work, 'da'));
  const sb = unpack(b, join(work, 'db'));
  const expected = { added: [] as string[], removed: [] as string[], changed: [] as string[] };
  for (const [k, v] of sa) {
    if (!sb.has(k)) expected.removed.push(k);
    else if (sb.get(k) !== v) expected.changed.push(k);
  }
  for (const k of sb.keys()) if (!sa.has(k)) expected.added.push(k);
  const r = await diffImages(a, b);
  const got = { added: [] as string[], removed: [] as string[], changed: [] as string[] };
  for (const c of r.changes) if (c.path !== '.') got[c.status].push(c.path);
  for (const k of ['added', 'removed', 'changed'] as const) t.same(got[k].sort(), expected[k].sort(), k);
  t.ok(expected.added.length > 0, `${expected.added.length} added, ${expected.removed.length} removed, ${expected.changed.length} changed`);
  t.ok(got.added.some((p) => p.includes('dm')), 'the dm module brings its files');
});

t.test('errors exit 2 or more, never 1', async (t) => {
  let r = rdrescue(['diff', base, join(work, 'missing.img')]);
  t.ok(r.status !== null && r.status >= 2, `exit ${r.status}`);
  t.match(r.stderr, /^rdrescue: .*missing\.img/);
  const junk = join(work, 'junk.img');
  writeFileSync(junk, 'junk junk junk');
  r = rdrescue(['diff', junk, base]);
  t.ok(r.status !== null && r.status >= 2, `exit ${r.status}`);
  r = rdrescue(['diff', base]);
  t.equal(r.status, 2, 'usage error');
});

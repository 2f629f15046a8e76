// add / appendSegment on real images: the original bytes stay, the kernel's
// rules for appended archives hold, programs run from the merged tree.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, symlinkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { extractImage } from '../../src/image/extract.js';
import { readImage } from '../../src/image/read.js';
import { appendSegment } from '../../src/write/add.js';
import { treeSource } from '../../src/write/tree-source.js';
import { rdrescue } from '../helpers/cli.js';
import { dracutImage, mkinitramfsImage, recompressed } from '../helpers/real-images.js';
import { makeSampleTree } from '../helpers/sample-tree.js';
import { diffSnapshots, snapshot } from '../helpers/tree.js';

const work = mkdtempSync(join(tmpdir(), 'rdrescue-add-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

async function segmentNames(image: string): Promise<string[][]> {
  const out: string[][] = [];
  for await (const ev of readImage(image)) if (ev.kind === 'entry') (out[ev.segment.index] ??= []).push(ev.entry.name);
  return out;
}

/** A program whose library only exists next to it (RUNPATH $ORIGIN/../lib): no image has it. */
function buildGreet(): string {
  const d = join(work, 'greet');
  mkdirSync(join(d, 'lib'), { recursive: true });
  mkdirSync(join(d, 'bin'), { recursive: true });
  writeFileSync(join(d, 'greet.c'), '#include <stdio.h>\nextern const char *greeting(void);\nint main(void) { puts(greeting()); return 0; }\n');
  writeFileSync(join(d, 'libgreet.c'), 'const char *greeting(void) { return "hello from libgreet"; }\n');
  execFileSync('gcc', ['-shared', '-fPIC', '-o', join(d, 'lib/libgreet.so'), join(d, 'libgreet.c')]);
  execFileSync('gcc', ['-o', join(d, 'bin/greet'), join(d, 'greet.c'), `-L${join(d, 'lib')}`, '-lgreet', '-Wl,-rpath,$ORIGIN/../lib']);
  return join(d, 'bin/greet');
}

t.test('dracut image (bash, no busybox): --bin bash, ls and a test-built program run in the merged tree with chroot', async (t) => {
  const image = dracutImage('no-compress');
  const before = sha(image);
  const greet = buildGreet();
  const out = join(work, 'dracut-plus.img');
  const r = rdrescue(['add', image, '-o', out, '--bin', '/usr/bin/bash', '/usr/bin/ls', greet]);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stderr, /entries added, \d+ -> \d+ bytes \(\+\d+/, 'reports the growth');
  t.equal(sha(image), before, 'IMAGE untouched');
  const orig = readFileSync(image);
  const got = readFileSync(out);
  t.ok(got.subarray(0, orig.length).equals(orig), 'the original bytes are byte-identical at the start of OUT');
  const segs = await segmentNames(out);
  t.equal(segs.length, 2, 'one new segment');
  t.ok(segs[1].some((n) => n.endsWith('lib/libgreet.so')), 'the RUNPATH library is in the new segment');
  t.notOk(segs[1].includes('bin') || segs[1].includes('lib'), 'no directory entry over the usr-merge links bin and lib');

  const plain = join(work, 'dracut-plain');
  await extractImage(image, plain, { merged: true });
  // ld.so finds $ORIGIN through /proc/self/exe, so the chroot gets a /proc as the booted system has.
  const inRoot = (root: string, cmd: string[]) => spawnSync('unshare', ['--mount', '--pid', '--fork', `--mount-proc=${join(root, 'proc')}`, 'chroot', root, ...cmd], { encoding: 'utf8' });
  t.not(inRoot(plain, [greet]).status, 0, 'before add, the program cannot run in the image');
  const tree = join(work, 'dracut-merged');
  await extractImage(out, tree, { merged: true });
  const ls = spawnSync('chroot', [tree, '/usr/bin/ls', '/'], { encoding: 'utf8' });
  t.equal(ls.status, 0, ls.stderr);
  t.match(ls.stdout, /\busr\b/);
  const bash = spawnSync('chroot', [tree, '/bin/bash', '-c', 'echo "$BASH_VERSION"; ls /usr'], { encoding: 'utf8' });
  t.equal(bash.status, 0, bash.stderr);
  t.match(bash.stdout, /^5\./);
  const g = inRoot(tree, [greet]);
  t.equal(g.status, 0, g.stderr);
  t.equal(g.stdout, 'hello from libgreet\n');
});

t.test('files and directories keep their modes, owners, links and devices at DEST; bin/x lands in usr/bin/x', async (t) => {
  const src = join(work, 'sample');
  mkdirSync(src);
  makeSampleTree(src);
  const note = join(work, 'note.txt');
  writeFileSync(note, 'rescue note\n');
  const image = dracutImage('no-compress');
  const out = join(work, 'files.img');
  const r = rdrescue(['add', image, '-o', out, `${src}:/opt/sample`, `${note}:/bin/rescue-note`, '--json']);
  t.equal(r.status, 0, r.stderr);
  const rep = JSON.parse(r.stdout);
  t.equal(rep.originalBytes, statSync(image).size);
  t.equal(rep.newBytes, statSync(out).size);
  const segs = await segmentNames(out);
  t.ok(segs[1].includes('usr/bin/rescue-note'), 'resolved through the image\'s bin -> usr/bin link');
  t.ok(segs[1].indexOf('opt') < segs[1].indexOf('opt/sample'), 'the missing parent /opt comes first');
  const tree = join(work, 'files-merged');
  await extractImage(out, tree, { merged: true });
  t.same(diffSnapshots(snapshot(src), snapshot(join(tree, 'opt/sample'))), [], 'the tree arrives whole (GNU-cpio-level facts)');
  t.equal(readFileSync(join(tree, 'usr/bin/rescue-note'), 'utf8'), 'rescue note\n');
});

t.test('a directory added at /lib lands in usr/lib: the usr-merge link lib -> usr/lib survives', async (t) => {
  const src = join(work, 'firmware');
  mkdirSync(join(src, 'firmware/acme'), { recursive: true });
  writeFileSync(join(src, 'firmware/acme/fw.bin'), Buffer.alloc(100, 1));
  const image = dracutImage('no-compress');
  const out = join(work, 'lib.img');
  const r = rdrescue(['add', image, '-o', out, `${src}:/lib`]);
  t.equal(r.status, 0, r.stderr);
  const segs = await segmentNames(out);
  t.same(segs[1], ['usr/lib', 'usr/lib/firmware', 'usr/lib/firmware/acme', 'usr/lib/firmware/acme/fw.bin']);
  const tree = join(work, 'lib-merged');
  await extractImage(out, tree, { merged: true });
  t.ok(lstatSync(join(tree, 'lib')).isSymbolicLink(), 'lib is still a symlink');
  t.ok(existsSync(join(tree, 'usr/lib/x86_64-linux-gnu/libc.so.6')), 'usr/lib keeps its contents');
  t.equal(readFileSync(join(tree, 'lib/firmware/acme/fw.bin')).length, 100);
});

t.test('initramfs-tools image (zstd, busybox applets hard-linked): an added file never truncates the shared busybox inode', async (t) => {
  const image = mkinitramfsImage();
  const names = (await segmentNames(image)).flat();
  const lsName = names.find((n) => n === 'usr/bin/ls' || n === 'bin/ls');
  const ls = join(work, 'fake-ls');
  writeFileSync(ls, '#!/bin/sh\necho not busybox\n', { mode: 0o755 });
  const out = join(work, 'mkinitramfs-plus.img');
  const r = rdrescue(['add', image, '-o', out, `${ls}:/usr/bin/ls`]);
  t.equal(r.status, 0, r.stderr);
  const entries = [];
  for await (const ev of readImage(out)) if (ev.kind === 'entry' && ev.segment.index === 1) entries.push(ev.entry);
  const mine = entries.filter((e) => e.name === 'usr/bin/ls');
  let linked = false;
  for await (const ev of readImage(image)) if (ev.kind === 'entry' && ev.entry.name === lsName && ev.entry.nlink > 1) linked = true;
  t.ok(linked, `${lsName} is a busybox hard link in the image`);
  // The kernel opens an existing regular file with O_TRUNC and writes through it; a symlink first makes it unlink the name instead.
  t.same(mine.map((e) => e.type), ['symlink', 'file'], 'a symlink placeholder precedes the file');
  const tree = join(work, 'mk-merged');
  await extractImage(out, tree, { merged: true });
  t.equal(readFileSync(join(tree, 'usr/bin/ls'), 'utf8'), '#!/bin/sh\necho not busybox\n');
  const sh = readFileSync(join(tree, 'usr/bin/sh'));
  t.ok(sh.includes(Buffer.from('BusyBox')), 'sh is still busybox');
});

t.test('the appended archive starts 4-byte aligned after an image of odd length (else the kernel drops it)', async (t) => {
  const base = join(work, 'odd.img');
  copyFileSync(recompressed('gzip'), base);
  const size = statSync(base).size;
  const note = join(work, 'aligned.txt');
  writeFileSync(note, 'aligned\n');
  const out = join(work, 'odd-plus.img');
  const rep = await appendSegment(base, out, treeSource(join(work, 'greet', 'lib')).filter((e) => e.name !== '.').map((e) => ({ ...e, name: `usr/lib/extra/${e.name}` })));
  t.equal(rep.originalBytes, size);
  const segs = [];
  for await (const ev of readImage(out)) if (ev.kind === 'segment') segs.push(ev.segment);
  t.equal(segs.length, 2);
  t.equal(segs[1].offset % 4, 0, `new segment at ${segs[1].offset}`);
  t.equal(segs[1].compression, 'none');
  t.ok(segs[1].offset - size < 4, 'padded with fewer than 4 zero bytes');
});

t.test('OUT may be IMAGE itself: replaced atomically with the old bytes first', async (t) => {
  const img = join(work, 'inplace.img');
  copyFileSync(dracutImage('no-compress'), img);
  const orig = readFileSync(img);
  const note = join(work, 'inplace.txt');
  writeFileSync(note, 'in place\n');
  const r = rdrescue(['add', img, '-o', img, `${note}:/etc/inplace.txt`]);
  t.equal(r.status, 0, r.stderr);
  const now = readFileSync(img);
  t.ok(now.length > orig.length && now.subarray(0, orig.length).equals(orig));
  t.same(readdirSync(work).filter((n) => n.includes('.rdrescue-')), [], 'no temporary file left');
});

t.test('OUT a symlink (/initrd.img -> boot/initrd.img-…): the file it points to is replaced, the link stays', async (t) => {
  const boot = join(work, 'boot');
  mkdirSync(boot);
  const real = join(boot, 'initrd.img-test');
  copyFileSync(dracutImage('no-compress'), real);
  const size = statSync(real).size;
  const link = join(work, 'initrd.img');
  symlinkSync('boot/initrd.img-test', link);
  const note = join(work, 'linked.txt');
  writeFileSync(note, 'via link\n');
  const r = rdrescue(['add', link, '-o', link, `${note}:/etc/linked.txt`]);
  t.equal(r.status, 0, r.stderr);
  t.ok(lstatSync(link).isSymbolicLink(), 'the link is kept');
  t.ok(statSync(real).size > size, 'the real image grew');
});

t.test('path traversal: a DEST with .. escaping the image root is refused, nothing written', async (t) => {
  const image = dracutImage('no-compress');
  const note = join(work, 'evil.txt');
  writeFileSync(note, 'evil\n');
  for (const dest of ['../../etc/evil', '/usr/../../evil', '..']) {
    const out = join(work, 'evil.img');
    const r = rdrescue(['add', image, '-o', out, `${note}:${dest}`]);
    t.equal(r.status, 4, `${dest}: refused`);
    t.match(r.stderr, /^rdrescue: DEST .* leaves the destination root/);
    t.notOk(existsSync(out), 'no OUT');
  }
  const r = rdrescue(['add', image, '-o', join(work, 'evil.img'), '--bin', '/usr/bin/ls:../../ls']);
  t.equal(r.status, 4, '--bin DEST with .. refused too');
});

t.test('a failure mid-way (missing SRC, data failing while written) leaves no OUT and IMAGE untouched', async (t) => {
  const image = join(work, 'mid.img');
  copyFileSync(dracutImage('no-compress'), image);
  const before = sha(image);
  const out = join(work, 'mid-out.img');
  const r = rdrescue(['add', image, '-o', out, join(work, 'greet/lib'), join(work, 'no-such-file')]);
  t.not(r.status, 0);
  t.match(r.stderr, /^rdrescue: cannot read .*no-such-file: no such file or directory\n$/);
  t.notOk(existsSync(out));
  const entries = [
    { name: 'etc/ok', type: 'file' as const, perm: 0o644, uid: 0, gid: 0, mtime: 0, ino: 1, nlink: 1, size: 3, data: () => [Buffer.from('ok\n')] },
    {
      name: 'etc/broken',
      type: 'file' as const,
      perm: 0o644,
      uid: 0,
      gid: 0,
      mtime: 0,
      ino: 2,
      nlink: 1,
      size: 1 << 20,
      data: async function* () {
        yield Buffer.alloc(4096);
        throw new Error('disk read error');
      },
    },
  ];
  await t.rejects(appendSegment(image, out, entries), /disk read error/);
  t.notOk(existsSync(out), 'no OUT');
  await t.rejects(appendSegment(image, image, entries), /disk read error/);
  t.equal(sha(image), before, 'IMAGE untouched, even as its own OUT');
  t.same(readdirSync(work).filter((n) => n.includes('.rdrescue-')), [], 'no temporary file left');
});

t.test('bad input: a non-ELF --bin and a corrupt IMAGE get one clear line', async (t) => {
  const image = dracutImage('no-compress');
  const txt = join(work, 'not-elf');
  writeFileSync(txt, 'plain text\n', { mode: 0o755 });
  let r = rdrescue(['add', image, '-o', join(work, 'x.img'), '--bin', txt]);
  t.not(r.status, 0);
  t.equal(r.stderr.split('\n').length, 2, r.stderr);
  const junk = join(work, 'junk.img');
  writeFileSync(junk, Buffer.alloc(1000, 0x41));
  r = rdrescue(['add', junk, '-o', join(work, 'x.img'), txt]);
  t.equal(r.status, 3);
  t.match(r.stderr, /^rdrescue: .*junk\.img.*neither a cpio archive nor a compressed member/);
  t.notOk(existsSync(join(work, 'x.img')));
});

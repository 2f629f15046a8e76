// The oracle is GNU cpio: for archives made by GNU cpio (newc and crc), bsdtar
// and busybox, `rdrescue ls` must print what `cpio -t` prints and `rdrescue
// extract` must give the tree `cpio -idm` gives.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extractImage } from '../../src/image/extract.js';
import { rdrescue } from '../helpers/cli.js';
import { busyboxCpio, bsdtarCpio, gnuCpio, gnuExtract, makeSampleTree } from '../helpers/sample-tree.js';
import { diffSnapshots, snapshot } from '../helpers/tree.js';

const work = mkdtempSync(join(tmpdir(), 'rdrescue-archivers-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const src = join(work, 'src');
makeSampleTree(src);

const archivers: Array<[string, () => Buffer]> = [
  ['GNU cpio newc', () => gnuCpio(src, 'newc')],
  ['GNU cpio crc', () => gnuCpio(src, 'crc')],
  ['bsdtar newc', () => bsdtarCpio(src)],
  ['busybox cpio newc', () => busyboxCpio(src)],
];

for (const [label, make] of archivers) {
  t.test(label, async (t) => {
    const dir = join(work, label.replace(/\W+/g, '-'));
    const img = `${dir}.cpio`;
    writeFileSync(img, make());
    const expected = execFileSync('cpio', ['-t', '--quiet'], { input: make() }).toString();
    const ls = rdrescue(['ls', img]);
    t.equal(ls.status, 0, ls.stderr);
    t.equal(ls.stdout, expected, 'ls equals cpio -t');

    gnuExtract(make(), join(dir, 'oracle'));
    await extractImage(img, join(dir, 'ours'));
    t.same(diffSnapshots(snapshot(join(dir, 'oracle')), snapshot(join(dir, 'ours'))), [], 'extracted tree equals cpio -idm');
    // cpio -idm leaves directory mtimes as extraction time when files are added later; we restore them like the kernel
    const ours = snapshot(join(dir, 'ours'), { dirMtimes: true, symlinkMtimes: true });
    t.equal(ours.get('usr/bin')?.mtime, 1700000003, 'directory mtime restored');
    t.equal(ours.get('init')?.mtime, 1700000002, 'symlink mtime restored, as the kernel does');
    t.equal(ours.get('usr/bin/su')!.mode & 0o7777, 0o4755, 'setuid kept');
    t.equal(ours.get('tmp')!.mode & 0o7777, 0o1777, 'sticky kept');
    t.equal(ours.get('dev/vda')?.type, 'block');
    t.equal(ours.get('dev/initctl')?.type, 'fifo');
    t.equal(ours.get('usr/bin/ls')?.linkGroup, ours.get('usr/bin/sh')?.linkGroup, 'hard links restored');
  });
}

t.test('ls -l agrees with cpio -tvn, and ls --json with the tree cpio -idm gives', async (t) => {
  const img = join(work, 'long.cpio');
  writeFileSync(img, gnuCpio(src));
  // mode, links, owner, group, size or "major, minor", name (and link target); dates are printed differently.
  const fields = (line: string, date: RegExp) => {
    const m = new RegExp(`^(\\S+)\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)\\s+(\\d+,\\s+\\d+|\\d+)\\s+${date.source}\\s(.*)$`).exec(line);
    return m ? [...m.slice(1, 5), m[5]!.replace(/,\s+/, ', '), m[6]] : [`unparsed: ${line}`];
  };
  const lines = (out: string) => out.trimEnd().split('\n');
  const theirs = lines(execFileSync('cpio', ['-tvn', '--quiet'], { input: gnuCpio(src) }).toString()).map((l) => fields(l, /\w{3}\s+\d+\s+\S+/));
  const long = rdrescue(['ls', '-l', img]);
  t.equal(long.status, 0, long.stderr);
  t.same(lines(long.stdout).map((l) => fields(l, /\d{4}-\d\d-\d\d \d\d:\d\d/)), theirs);

  const tree = join(work, 'long-oracle');
  gnuExtract(gnuCpio(src), tree);
  const json = rdrescue(['ls', '--json', img]);
  t.equal(json.status, 0, json.stderr);
  const entries = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
  t.equal(entries.length, theirs.length, 'one object per entry');
  const named = entries.filter((e) => e.name !== '.');
  // newc stores a hard-linked file's data (and size) with the last of its names only.
  const lastName = new Map(named.map((e) => [lstatSync(join(tree, e.name as string)).ino, e.name]));
  for (const e of named) {
    const st = lstatSync(join(tree, e.name as string));
    const want: Record<string, unknown> = { segment: 0, name: e.name, mode: st.mode, uid: st.uid, gid: st.gid, nlink: st.isDirectory() ? e.nlink : st.nlink };
    // cpio -idm restores the mtimes of files only; newc stores no size for directories, devices and fifos.
    if (st.isFile()) Object.assign(want, { mtime: st.mtime.getTime() / 1000, size: lastName.get(st.ino) === e.name ? st.size : 0 });
    if (st.isSymbolicLink()) Object.assign(want, { target: readlinkSync(join(tree, e.name as string)), size: st.size });
    if (st.isCharacterDevice() || st.isBlockDevice()) want.rdev = [Math.floor(st.rdev / 256) & 0xfff, (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00)];
    t.has(e, want, e.name as string);
  }
});

t.test('crc checksum mismatch: a warning naming the entry, every entry still listed, exit 3; --strict stops there', async (t) => {
  const buf = gnuCpio(src, 'crc');
  const at = buf.indexOf('PermitRootLogin');
  buf[at] ^= 0x20;
  const img = join(work, 'badcrc.cpio');
  writeFileSync(img, buf);
  const all = execFileSync('cpio', ['-t', '--quiet'], { input: gnuCpio(src, 'crc') }).toString();
  // A listing seeks over the file data it does not print: a crc archive's data is checked only with --verify (docs/reading.md).
  const plain = rdrescue(['ls', img]);
  t.equal(plain.status, 0, plain.stderr);
  t.equal(plain.stdout, all, 'the whole listing, unchecked');
  const r = rdrescue(['ls', '--verify', img]);
  t.equal(r.status, 3);
  t.equal(r.stdout, all, 'the whole listing');
  const lines = r.stderr.trim().split('\n');
  t.match(lines[0], /^rdrescue: warning: .*badcrc\.cpio: segment 0: .*offset \d+: entry "etc\/ssh\/sshd_config": crc checksum mismatch/);
  t.match(lines[1], /badcrc\.cpio: 1 damaged entry/);
  t.equal(lines.length, 2);
  const strict = rdrescue(['ls', '--verify', '--strict', img]);
  t.equal(strict.status, 3);
  t.match(strict.stderr, /^rdrescue: .*badcrc\.cpio: segment 0: .*offset \d+: entry "etc\/ssh\/sshd_config": crc checksum mismatch/);
  t.equal(strict.stderr.trim().split('\n').length, 1, 'one line');
  t.ok(all.startsWith(strict.stdout), 'strict lists the entries before the damage');
  // extract reads every file it writes, so it checks them without being asked.
  const x = rdrescue(['extract', img, join(work, 'badcrc-out')]);
  t.equal(x.status, 3, 'extract');
  t.match(x.stderr, /badcrc\.cpio: segment 0: .*entry "etc\/ssh\/sshd_config": crc checksum mismatch/);
});

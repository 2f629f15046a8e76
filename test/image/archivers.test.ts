// The oracle is GNU cpio: for archives made by GNU cpio (newc and crc), bsdtar
// and busybox, `rdrescue ls` must print what `cpio -t` prints and `rdrescue
// extract` must give the tree `cpio -idm` gives.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

t.test('crc checksum mismatch is an error naming the entry', async (t) => {
  const buf = gnuCpio(src, 'crc');
  const at = buf.indexOf('PermitRootLogin');
  buf[at] ^= 0x20;
  const img = join(work, 'badcrc.cpio');
  writeFileSync(img, buf);
  const r = rdrescue(['ls', img]);
  t.equal(r.status, 3);
  t.match(r.stderr, /^rdrescue: .*badcrc\.cpio: segment 0: .*offset \d+: entry "etc\/ssh\/sshd_config": crc checksum mismatch/);
  t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
});

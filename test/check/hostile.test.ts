// Hostile images: check writes a partial tree of the image to scratch space and
// resolves paths inside the image. Each attack has its own test, named after it.
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeArchive, type WriteEntry } from '../../src/cpio/writer.js';
import { checkImage } from '../../src/check/check.js';

const work = mkdtempSync(join(tmpdir(), 'rdrescue-check-hostile-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

let ino = 0;
async function image(name: string, entries: Array<Partial<WriteEntry> & { name: string }>): Promise<string> {
  const full = entries.map((e) => ({ type: 'file', perm: 0o755, uid: 0, gid: 0, mtime: 1700000000, ino: ++ino, nlink: 1, size: 0, ...e }) as WriteEntry);
  const out: Buffer[] = [];
  for await (const c of writeArchive(full)) out.push(c);
  const p = join(work, name);
  writeFileSync(p, Buffer.concat(out));
  return p;
}
const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]), Buffer.alloc(57)]);
const data = (b: Buffer) => ({ size: b.length, data: () => [b] });
const link = (name: string, target: string) => ({ name, type: 'symlink' as const, perm: 0o777, ...data(Buffer.from(target)) });
const root = join(work, 'root');
mkdirSync(join(root, 'etc'), { recursive: true });
writeFileSync(join(root, 'etc/fstab'), '/dev/vda / ext4 defaults 0 0\n');

const scratchBefore = () => new Set(readdirSync('/dev/shm').concat(readdirSync(tmpdir())));

t.test('path traversal: ../ names and names through a planted symlink are not written outside the scratch tree', async (t) => {
  const escape = `rdrescue-check-escape-${process.pid}`;
  const img = await image('traversal.img', [
    { name: `../../../../../../tmp/${escape}`, ...data(elf) },
    link('lib', '/tmp'),
    { name: `lib/${escape}-2`, ...data(elf) },
    { name: 'init', ...data(Buffer.from('#!/bin/sh\n')) },
  ]);
  const r = await checkImage({ image: img, root, kernel: '6.1.0-57-amd64' });
  t.notOk(existsSync(`/tmp/${escape}`), 'nothing at the ../ target');
  t.notOk(existsSync(`/tmp/${escape}-2`), 'nothing through the planted lib -> /tmp');
  t.ok(r.findings.some((f) => f.code === 'init-interpreter-missing'), 'the image is still judged');
});

t.test('symlink escape: /init -> /etc/passwd resolves inside the image, never on the host', async (t) => {
  const img = await image('init-link.img', [link('init', '/etc/passwd')]);
  const r = await checkImage({ image: img, root, kernel: '6.1.0-57-amd64' });
  const f = r.findings.find((x) => x.code === 'init-missing');
  t.match(f?.message, /\/init is a symlink to \/etc\/passwd, which is not in the image/);
});

t.test('symlink loop: /init -> a -> b -> a ends as init-missing, without hanging', async (t) => {
  const img = await image('loop.img', [link('a', 'b'), link('b', 'a'), link('init', 'a')]);
  const r = await checkImage({ image: img, root, kernel: '6.1.0-57-amd64' });
  t.ok(r.findings.some((x) => x.code === 'init-missing'));
});

t.test('the scratch tree is removed after every check, also for a truncated image', async (t) => {
  const before = scratchBefore();
  const img = await image('whole.img', [{ name: 'init', ...data(Buffer.from('#!/bin/sh\n')) }]);
  const cut = join(work, 'cut.img');
  writeFileSync(cut, readFileSync(img).subarray(0, 200));
  const r = await checkImage({ image: cut, root, kernel: '6.1.0-57-amd64' });
  t.ok(r.findings.some((x) => x.code === 'image-unreadable'));
  const left = [...scratchBefore()].filter((n) => n.startsWith('rdrescue-check-') && !before.has(n));
  t.same(left, []);
});

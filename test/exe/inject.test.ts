import t from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeArchive, type WriteEntry } from '../../src/cpio/writer.js';
import { VERSION } from '../../src/version.js';
import { rdrescue } from '../helpers/cli.js';
import { ensureSea } from '../vm/sea.js';

const SEA = ensureSea();
const work = mkdtempSync(join(tmpdir(), 'rdrescue-inject-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

const LIBS = ['ld-linux-x86-64.so.2', 'libc.so.6', 'libm.so.6', 'libstdc++.so.6', 'libgcc_s.so.1', 'libdl.so.2', 'libpthread.so.0'];
/** Stands in for the image's own libc: the appended segment must not carry a file of that name. */
const OWN_LIBC = Buffer.from('the image\'s own libc, not to be replaced\n');

/** A small uncompressed image: busybox as /bin/sh and an "own" libc; its length is made not a multiple of 4. */
async function baseImage(path: string): Promise<Buffer> {
  const busybox = readFileSync('/bin/busybox');
  const base = { uid: 0, gid: 0, mtime: 0, nlink: 1 };
  const entries: WriteEntry[] = [
    { ...base, name: 'bin', type: 'dir', perm: 0o755, ino: 1, size: 0, nlink: 2 },
    { ...base, name: 'bin/sh', type: 'file', perm: 0o755, ino: 2, size: busybox.length, data: () => [busybox] },
    { ...base, name: 'lib', type: 'dir', perm: 0o755, ino: 3, size: 0, nlink: 2 },
    { ...base, name: 'lib/libc.so.6', type: 'file', perm: 0o644, ino: 4, size: OWN_LIBC.length, data: () => [OWN_LIBC] },
  ];
  const chunks: Buffer[] = [];
  for await (const c of writeArchive(entries)) chunks.push(c);
  // Trailing zeros after TRAILER!!! are legal padding, and leave the length at 2 mod 4.
  const img = Buffer.concat([...chunks, Buffer.alloc(2)]);
  writeFileSync(path, img);
  return img;
}

/** The appended segment starts at the first non-zero byte after the original; the kernel needs it 4-aligned. */
function appendedAt(out: Buffer, originalLength: number): number {
  let i = originalLength;
  while (i < out.length && out[i] === 0) i++;
  return i;
}

function unpack(tree: string, archive: Buffer): string[] {
  mkdirSync(tree, { recursive: true });
  const r = spawnSync('cpio', ['-idmv', '--no-absolute-filenames', '--quiet'], { cwd: tree, input: archive, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cpio: ${r.stderr}`);
  return r.stderr.split('\n').filter(Boolean);
}

t.test('inject appends rdrescue, its loader and complete library closure after the untouched original', async (t) => {
  const img = join(work, 'base.img');
  const original = await baseImage(img);
  const out = join(work, 'out.img');
  const r = rdrescue(['inject', img, '-o', out, '--exe', SEA, '--compress', 'none', '--json']);
  t.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { originalBytes: number; newBytes: number; grewBy: number; files: string[] };
  const bytes = readFileSync(out);
  t.equal(report.originalBytes, original.length, 'reports the original size');
  t.equal(report.newBytes, bytes.length, 'reports the new size');
  t.equal(report.grewBy, bytes.length - original.length, 'reports the growth');
  t.ok(bytes.subarray(0, original.length).equals(original), 'the original bytes are kept identical');
  const at = appendedAt(bytes, original.length);
  t.equal(at % 4, 0, `the new segment starts on a 4-byte boundary (offset ${at})`);
  t.equal(bytes.subarray(at, at + 6).toString('latin1'), '070701', 'the new segment is a newc archive');

  const tree = join(work, 'tree');
  unpack(tree, original);
  const names = unpack(tree, bytes.subarray(at));
  for (const d of ['usr', 'usr/bin', 'usr/lib', 'usr/lib/rdrescue', 'usr/lib/rdrescue/lib']) t.ok(names.includes(d), `directory entry ${d} is in the segment`);
  for (const l of LIBS) t.ok(names.includes(`usr/lib/rdrescue/lib/${l}`), `private ${l}`);
  t.ok(names.every((n) => n === 'usr' || n === 'usr/bin' || n === 'usr/lib' || n === 'usr/bin/rdrescue' || n.startsWith('usr/lib/rdrescue')), 'nothing outside the private tree but the launcher and its parents');
  t.same(readFileSync(join(tree, 'lib/libc.so.6')), OWN_LIBC, 'the image\'s own libc is untouched');
  t.same(report.files.sort(), names.filter((n) => !statSync(join(tree, n)).isDirectory()).map((n) => '/' + n).sort(), 'the report lists exactly the files added');
  // The tree has no libraries of its own at the standard paths: rdrescue runs only through its private loader.
  const run = spawnSync('chroot', [tree, '/usr/bin/rdrescue', '--version'], { encoding: 'utf8' });
  t.equal(run.stdout.trim(), VERSION, `chroot TREE /usr/bin/rdrescue --version runs the executable (${run.stderr.trim()})`);
});

t.test('inject --compress gzip writes a gzip member the kernel can unpack', async (t) => {
  const img = join(work, 'base-gz.img');
  const original = await baseImage(img);
  const out = join(work, 'out-gz.img');
  const r = rdrescue(['inject', img, '-o', out, '--exe', SEA, '--compress', 'gzip']);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /grew by [\d.]+ MiB/, 'says how much the image grew');
  const bytes = readFileSync(out);
  const at = appendedAt(bytes, original.length);
  t.equal(at % 4, 0, 'aligned');
  const gz = spawnSync('gzip', ['-dc'], { input: bytes.subarray(at), maxBuffer: 1 << 30 });
  t.equal(gz.status, 0, 'gzip -dc reads the segment');
  const list = spawnSync('cpio', ['-t', '--quiet'], { input: gz.stdout, encoding: 'utf8', maxBuffer: 1 << 30 });
  t.match(list.stdout, /usr\/lib\/rdrescue\/lib\/libstdc\+\+\.so\.6/, 'the closure is inside');
});

t.test('inject --stage writes the same tree into a build directory (what the hooks use)', async (t) => {
  const tree = join(work, 'stage');
  mkdirSync(join(tree, 'bin'), { recursive: true });
  copyFileSync('/bin/busybox', join(tree, 'bin/sh'));
  const r = rdrescue(['inject', '--stage', tree, '--exe', SEA]);
  t.equal(r.status, 0, r.stderr);
  for (const l of LIBS) t.ok(existsSync(join(tree, 'usr/lib/rdrescue/lib', l)), `private ${l}`);
  const run = spawnSync('chroot', [tree, '/usr/bin/rdrescue', '--version'], { encoding: 'utf8' });
  t.equal(run.stdout.trim(), VERSION, 'runs in the staged tree');
});

t.test('bad input: one line, non-zero, no output file', async (t) => {
  const img = join(work, 'base-bad.img');
  await baseImage(img);
  const cases: Array<[string, string[], RegExp]> = [
    ['not a single executable', ['inject', img, '-o', join(work, 'bad1.img'), '--exe', '/bin/ls'], /not a Node single executable/],
    ['the .cjs bundle as --exe', ['inject', img, '-o', join(work, 'bad2.img'), '--exe', join(SEA + '.cjs')], /not an ELF executable/],
    ['missing image', ['inject', join(work, 'nope.img'), '-o', join(work, 'bad3.img'), '--exe', SEA], /nope\.img/],
    ['no -o', ['inject', img, '--exe', SEA], /missing -o/],
    ['unknown compression', ['inject', img, '-o', join(work, 'bad5.img'), '--exe', SEA, '--compress', 'rar'], /rar/],
  ];
  for (const [what, args, re] of cases) {
    const r = rdrescue(args);
    t.not(r.status, 0, `${what}: fails`);
    t.match(r.stderr, re, `${what}: says why`);
    t.equal(r.stderr.trim().split('\n').length, 1, `${what}: one line`);
    const o = args[args.indexOf('-o') + 1];
    if (args.includes('-o')) t.notOk(existsSync(o), `${what}: nothing written`);
  }
});

t.test('--runbook: a bad or unbootable runbook is refused before anything is written', async (t) => {
  const img = join(work, 'base-rb.img');
  await baseImage(img);
  const write = (name: string, text: string) => {
    const p = join(work, name);
    writeFileSync(p, text);
    return p;
  };
  const cases: Array<[string, string, RegExp]> = [
    ['unknown step', write('rb-unknown.yaml', 'version: 1\nsteps:\n  - format-disk: /dev/sda\n'), /rb-unknown\.yaml/],
    ['plain password', write('rb-plain.yaml', 'version: 1\nsteps:\n  - passwd: { user: root, password: hunter2 }\n'), /rdrescue hash/],
    ['password_env (no environment at boot)', write('rb-env.yaml', 'version: 1\nsteps:\n  - passwd: { user: root, password_env: PW }\n'), /password_file or password_env/],
    ['an image without a known boot hook', write('rb-ok.yaml', 'version: 1\nsteps:\n  - relabel: auto\n'), /dracut or initramfs-tools/],
  ];
  for (const [what, rb, re] of cases) {
    const out = join(work, `rb-out-${what.replace(/\W+/g, '-')}.img`);
    const r = rdrescue(['inject', img, '-o', out, '--exe', SEA, '--runbook', rb]);
    t.not(r.status, 0, `${what}: refused`);
    t.match(r.stderr, re, `${what}: says why`);
    t.notOk(existsSync(out), `${what}: nothing written`);
  }
});

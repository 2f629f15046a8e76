// Names are bytes. A stored name or link target that is not UTF-8 (latin1
// from an old system, a corrupt byte) is listed and extracted byte for byte,
// as GNU cpio does, never as a lossy U+FFFD.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rdrescue } from '../helpers/cli.js';
import { gnuCpio } from '../helpers/sample-tree.js';

const work = mkdtempSync(join(tmpdir(), 'rdrescue-raw-names-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

const root = join(work, 'tree');
const b = (...parts: Array<string | number[]>) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));
const at = (...parts: Array<string | number[]>) => b(root, '/', ...parts);
mkdirSync(root);
// "café" in latin1, a directory with a file inside; a lone 0xff byte; a link whose target is latin1 too.
mkdirSync(at('caf', [0xe9]));
writeFileSync(at('caf', [0xe9], '/menu', [0xff]), 'latin1 inside latin1\n');
writeFileSync(at('plain-utf8-', 'é'), 'valid UTF-8 stays as it is\n');
symlinkSync(b('caf', [0xe9]), at('link-', [0xe0]));
// mkfifo(1) takes text: python makes the fifo under its raw name.
execFileSync('python3', ['-c', 'import os, sys; os.mkfifo(bytes.fromhex(sys.argv[1]))', at('fifo-', [0xfe]).toString('hex')]);
const image = join(work, 'raw.img');
writeFileSync(image, gnuCpio(root));

/** `find` listing with type, mode, name and link target, as raw bytes: the oracle compares bytes, not decoded text. */
const listing = (dir: string) => execFileSync('sh', ['-c', 'cd "$1" && find . -printf "%y %m %p -> %l\\n" | LC_ALL=C sort', 'sh', dir]);

t.test('ls prints the stored bytes of every name', async (t) => {
  const r = rdrescue(['ls', image]);
  t.equal(r.status, 0, r.stderr);
  t.same(r.stdoutBuf, execFileSync('cpio', ['-t', '--quiet'], { input: gnuCpio(root) }));
});

t.test('ls -l prints the stored bytes of names and link targets; --json adds them as base64', async (t) => {
  const long = rdrescue(['ls', '-l', image]);
  t.equal(long.status, 0, long.stderr);
  const lines = long.stdoutBuf.toString('latin1').split('\n');
  const latin1 = (x: Buffer) => x.toString('latin1');
  t.ok(lines.some((l) => l.endsWith(` ${latin1(b('link-', [0xe0], ' -> caf', [0xe9]))}`)), 'a latin1 link and its latin1 target, byte for byte');
  t.ok(lines.some((l) => l.endsWith(` ${latin1(b('caf', [0xe9], '/menu', [0xff]))}`)), 'a latin1 path');
  t.notOk(long.stdoutBuf.includes(Buffer.from('\uFFFD')), 'no replacement character anywhere');
  const json = rdrescue(['ls', '--json', image]);
  t.equal(json.status, 0, json.stderr);
  const entries = JSON.parse(json.stdout) as Array<{ name: string; nameBase64?: string; target?: string; targetBase64?: string }>;
  const link = entries.find((e) => e.nameBase64 && Buffer.from(e.nameBase64, 'base64').equals(b('link-', [0xe0])));
  t.ok(link, 'the link is found by its stored bytes');
  t.same(Buffer.from(link?.targetBase64 ?? '', 'base64'), b('caf', [0xe9]), 'its target bytes');
  const utf8 = entries.find((e) => e.name === 'plain-utf8-é');
  t.ok(utf8, 'a valid UTF-8 name is plain text');
  t.equal(utf8?.nameBase64, undefined, 'with no base64 beside it');
  t.equal(entries.filter((e) => e.nameBase64).length, 4, 'base64 for the four names that are not UTF-8, and only them');
});

t.test('extract creates names and link targets byte for byte, as GNU cpio does', async (t) => {
  const ours = join(work, 'ours');
  const r = rdrescue(['extract', image, ours]);
  t.equal(r.status, 0, r.stderr);
  const theirs = join(work, 'cpio');
  mkdirSync(theirs);
  execFileSync('sh', ['-c', 'cd "$1" && cpio -idm --quiet < "$2"', 'sh', theirs, image]);
  const want = listing(theirs);
  t.ok(want.includes(Buffer.from([0x2f, 0x6d, 0x65, 0x6e, 0x75, 0xff])), 'the oracle holds the raw byte name');
  t.same(listing(ours), want);
});

t.test('repack stores names and link targets byte for byte: GNU cpio extracts the source tree', async (t) => {
  const out = join(work, 'repacked.img');
  const r = rdrescue(['repack', root, '-o', out, '--compress', 'gzip']);
  t.equal(r.status, 0, r.stderr);
  const back = join(work, 'repacked');
  mkdirSync(back);
  execFileSync('sh', ['-c', 'cd "$1" && gzip -dc < "$2" | cpio -idm --quiet', 'sh', back, out]);
  t.same(listing(back), listing(root));
});

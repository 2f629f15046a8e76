// A decompressor program on PATH reads its member straight from the image
// through `dd` (an exact byte range found by walking the framing), so several
// members in one image each get exactly their own bytes, and a missing or
// non-GNU dd falls back to feeding the program through a pipe.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readImage } from '../../src/image/read.js';
import { rdrescue } from '../helpers/cli.js';
import { recompressed } from '../helpers/real-images.js';
import { archiveOf, compressWith, makeSampleTree, microcodeTree, padTo } from '../helpers/sample-tree.js';

const work = mkdtempSync(join(tmpdir(), 'rdrescue-range-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

const tree = (name: string, fill: (root: string) => void) => archiveOf(join(work, 'trees', name), fill);

const early = tree('early', microcodeTree('GenuineIntel', 3000));
const main = tree('main', makeSampleTree);
const extra = tree('extra', (r) => {
  mkdirSync(join(r, 'etc'));
  writeFileSync(join(r, 'etc/added'), 'appended later\n');
});

/**
 * [early][xz main][uncompressed extra][xz -T2 extra][lzo extra][zstd extra][zeros]: program-read members with data
 * after each. Multi-threaded xz records block sizes in the block headers, and the walk skips by them.
 */
const member = (name: string, raw: Buffer, plain: Buffer | undefined, align = 4) => ({ name, raw, bytes: padTo(raw, align), plain });
const members = [
  member('early', early, early, 512),
  member('xz', compressWith(['xz', '--check=crc32', '-c'], main), main),
  member('extra', extra, extra),
  member('xz-mt', compressWith(['xz', '--check=crc32', '-T2', '--block-size=4KiB', '-c'], main), main),
  member('lzo', compressWith(['lzop', '-c'], extra), extra),
  member('zstd', compressWith(['zstd', '-q', '-c'], extra), extra),
  member('zeros', Buffer.alloc(1024), undefined),
];
const offsets = members.map((_, k) => members.slice(0, k).reduce((a, m) => a + m.bytes.length, 0));
const image = join(work, 'multi.img');
writeFileSync(image, Buffer.concat(members.map((m) => m.bytes)));
const expected = members
  .filter((m) => m.plain)
  .map((m) => execFileSync('cpio', ['-t', '--quiet'], { input: m.plain }).toString())
  .join('');

/** A directory to put first on PATH holding a `dd` script. */
function fakeDd(name: string, script: string): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'dd'), `#!/bin/sh\n${script}\n`);
  chmodSync(join(dir, 'dd'), 0o755);
  return dir;
}

t.test('each program-read member is read from its own first byte through dd, and only up to its end', async (t) => {
  const log = join(work, 'dd.log');
  const dir = fakeDd('logging-dd', `[ "$1" = --version ] || echo "$@" >> ${log}\nexec /usr/bin/dd "$@"`);
  const r = rdrescue(['ls', image], { env: { ...process.env, PATH: `${dir}:${process.env.PATH}` } });
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, expected, 'ls equals cpio -t of each segment');
  const calls = readFileSync(log, 'utf8');
  const range = (k: number) => `skip=${offsets[k]} count=${members[k].raw.length}`;
  // xz --single-stream stops at its stream's end by itself, so it starts before the walk has found that end.
  const from = (k: number) => `iflag=skip_bytes skip=${offsets[k]} status=none`;
  t.match(calls, from(1), 'xz: from its first byte, stopping at the end of its stream');
  t.match(calls, from(3), 'xz with block sizes in its headers: the same');
  t.match(calls, range(4), 'lzo: exactly the lzop file');
  t.match(calls, range(5), 'zstd: exactly the frame (its length read from the block headers before the program starts)');
  t.equal(rdrescue(['ls', '--no-native', image]).stdout, r.stdout, 'same listing from the built-in decoders');
});

t.test('without GNU dd the program is fed through a pipe, with the same result', async (t) => {
  const log = join(work, 'used.log');
  // busybox's dd answers --version without "coreutils"; anything else would be a wrong use.
  const dir = fakeDd('busybox-dd', `[ "$1" = --version ] && exec busybox dd --version\necho "$@" >> ${log}\nexit 1`);
  const r = rdrescue(['ls', image], { env: { ...process.env, PATH: `${dir}:${process.env.PATH}` } });
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, expected);
  t.notOk(existsSync(log), 'the non-GNU dd was never asked to copy');
});

t.test('a program that reads its member itself writes into a fifo read here; without mkfifo, into its stdout pipe', async (t) => {
  const tmp = join(work, 'tmp');
  mkdirSync(tmp);
  const log = join(work, 'mkfifo.log');
  const logging = join(work, 'logging-mkfifo');
  const failing = join(work, 'failing-mkfifo');
  for (const [dir, body] of [
    [logging, `echo "$@" >> ${log}\nexec /usr/bin/mkfifo "$@"`],
    [failing, 'exit 1'],
  ]) {
    mkdirSync(dir);
    writeFileSync(join(dir, 'mkfifo'), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, 'mkfifo'), 0o755);
  }
  const env = (dir: string) => ({ env: { ...process.env, TMPDIR: tmp, PATH: `${dir}:${process.env.PATH}` } });
  const viaFifo = rdrescue(['ls', image], env(logging));
  t.equal(viaFifo.status, 0, viaFifo.stderr);
  t.equal(viaFifo.stdout, expected);
  // One fifo per program-read member: xz, multi-block xz, lzo and zstd.
  t.equal(readFileSync(log, 'utf8').trim().split('\n').length, 4, 'a fifo for each program');
  const viaPipe = rdrescue(['ls', image], env(failing));
  t.equal(viaPipe.status, 0, viaPipe.stderr);
  t.equal(viaPipe.stdout, expected, 'the same listing through the stdout pipe');
  t.same(readdirSync(tmp), [], 'no fifo or directory left behind in TMPDIR');
});

t.test('a zstd member larger than one read is skipped over, not read again, and the segment after it is found', async (t) => {
  // 3 MiB of random bytes stay 3 MiB compressed: more than the image reader's 1 MiB reads.
  const big = tree('big', (r) => writeFileSync(join(r, 'noise'), randomBytes(3 * 2 ** 20)));
  const zst = padTo(compressWith(['zstd', '-q', '-c'], big), 4);
  const file = join(work, 'big-then-extra.img');
  writeFileSync(file, Buffer.concat([zst, extra]));
  const r = rdrescue(['ls', file]);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, [big, extra].map((a) => execFileSync('cpio', ['-t', '--quiet'], { input: a }).toString()).join(''));
});

t.test('corrupt data in a program-read member names the member and its offset', async (t) => {
  const bad = Buffer.concat(members.map((m) => m.bytes));
  const at = offsets[1] + Math.floor(members[1].bytes.length / 2);
  bad.fill(0x55, at, at + 8);
  const file = join(work, 'corrupt.img');
  writeFileSync(file, bad);
  const r = rdrescue(['ls', file]);
  t.equal(r.status, 3);
  t.match(r.stderr, `rdrescue: ${file}: segment 1: offset ${offsets[1]}: corrupt xz data in the member starting here: `);
  t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
});

t.test('a consumer that stops early stops the decompressor program and its reader too', async (t) => {
  // A member big enough that xz is still at work after the first entry (146 MB of cpio data). The pause
  // lets the walk read the member to its end first, so only an explicit stop can end the program.
  for await (const ev of readImage(recompressed('xz'))) {
    if (ev.kind !== 'entry') continue;
    await new Promise((r) => setTimeout(r, 500));
    break;
  }
  const running = () => spawnSync('ps', ['--ppid', String(process.pid), '-o', 'comm=']).stdout.toString().split('\n').filter((c) => c === 'xz' || c === 'dd');
  for (let i = 0; i < 40 && running().length; i++) await new Promise((r) => setTimeout(r, 50));
  t.same(running(), [], 'no xz or dd left behind');
  // Should the check fail, what was left behind must not keep this test process alive.
  spawnSync('pkill', ['-KILL', '-P', String(process.pid), '-x', 'xz|dd']);
});

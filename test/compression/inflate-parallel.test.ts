// gzip members decoded on two cores: byte-exact against gzip -dc, errors as the streaming path gives them.
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { FormatError } from '../../src/errors.js';
import { decodeGzip } from '../../src/compression/gzip.js';
import { inflateStats, inflateTuning } from '../../src/compression/inflate-parallel.js';
import { FileSource } from '../../src/image/file-source.js';
import { listImage } from '../../src/image/list.js';
import { recompressed } from '../helpers/real-images.js';
import { archiveOf, padTo } from '../helpers/sample-tree.js';
import { BufferInput, decodeAll, realisticData, tool } from './helpers.js';

const work = mkdtempSync(join(tmpdir(), 'rdrescue-inflate-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

// The parallel path is what these tests are about, idle core or not (the machine running them may be busy).
inflateTuning.onlyWithIdleCore = false;
const saved = { ...inflateTuning };
t.afterEach(() => Object.assign(inflateTuning, saved));
/** Small chunks, so a few MB of input make many. */
const smallChunks = () => (inflateTuning.chunk = 64 * 1024);

/** Runs `fn` and returns how the parallel path's counters moved. */
async function counted<T>(fn: () => Promise<T>): Promise<{ value: T; members: number; chunks: number; fallbacks: number }> {
  const before = { ...inflateStats };
  const value = await fn();
  return { value, members: inflateStats.members - before.members, chunks: inflateStats.chunks - before.chunks, fallbacks: inflateStats.fallbacks - before.fallbacks };
}

const mixed = Buffer.concat([realisticData(3_000_000), Buffer.from(execFileSync('sh', ['-c', 'cat /usr/share/common-licenses/* | head -c 1500000'])), realisticData(1_000_000)]);

t.test('the distribution image recompressed with gzip -6: identical to gzip -dc, on the parallel path', async (t) => {
  const img = recompressed('gzip');
  const want = createHash('sha256');
  await new Promise<void>((resolve, reject) => createReadStream(img).pipe(zlib.createGunzip()).on('data', (d: Buffer) => want.update(d)).on('end', resolve).on('error', reject));
  const r = await counted(async () => {
    const src = await FileSource.open(img);
    const got = createHash('sha256');
    let rest = 0;
    try {
      for await (const d of decodeGzip(src, {})) got.update(d);
      for (let b = await src.read(); b; b = await src.read()) rest += b.length;
    } finally {
      await src.close();
    }
    return { digest: got.digest('hex'), rest };
  });
  t.equal(r.value.digest, want.digest('hex'));
  t.equal(r.value.rest, 0, 'nothing after the member');
  t.equal(r.members, 1);
  t.ok(r.chunks >= 5, `${r.chunks} chunks`);
  t.equal(r.fallbacks, 0);
});

for (const [name, cmd] of [
  ['gzip -1', ['gzip', '-1', '-n', '-c']],
  ['gzip -9', ['gzip', '-9', '-n', '-c']],
  ['pigz', ['pigz', '-6', '-n', '-c']],
] as const) {
  t.test(`${name} of mixed text and binary data: exact, many chunks`, async (t) => {
    smallChunks();
    const gz = tool(cmd[0], [...cmd.slice(1)], mixed);
    const r = await counted(() => decodeAll(decodeGzip, gz));
    t.ok(r.value.out.equals(mixed));
    t.equal(r.value.rest.length, 0);
    t.ok(r.chunks >= 10, `${r.chunks} chunks`);
    t.equal(r.fallbacks, 0);
  });
}

t.test('long zero runs and highly repetitive data (the fix-up never agrees early): exact', async (t) => {
  smallChunks();
  let seed = 7;
  const pattern = Buffer.alloc(20_000);
  for (let i = 0; i < pattern.length; i++) pattern[i] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
  const data = Buffer.concat([
    Buffer.alloc(3_000_000),
    realisticData(1_000_000),
    // Every copy of a 20 kB random block refers to the one before: output made from the stand-in window stays wrong to the end of the chunk.
    Buffer.concat(Array.from({ length: 300 }, () => pattern)),
    Buffer.alloc(2_000_000),
    realisticData(1_500_000),
  ]);
  for (const level of ['-1', '-9']) {
    const gz = tool('gzip', [level, '-n', '-c'], data);
    const r = await counted(() => decodeAll(decodeGzip, gz));
    t.ok(r.value.out.equals(data), `gzip ${level}`);
    t.ok(r.chunks >= 3, `${r.chunks} chunks`);
  }
});

t.test('stored blocks (random data) leave no block start to find: the streaming fallback decodes them exactly', async (t) => {
  smallChunks();
  const data = Buffer.concat([realisticData(1_000_000), randomBytes(2_000_000), realisticData(1_000_000)]);
  const gz = tool('gzip', ['-6', '-n', '-c'], data);
  const r = await counted(() => decodeAll(decodeGzip, gz));
  t.ok(r.value.out.equals(data));
  t.equal(r.fallbacks, 1);
  t.ok(r.chunks >= 1);
});

t.test('a member followed by more data hands back exactly the bytes after it', async (t) => {
  smallChunks();
  const gz = tool('gzip', ['-6', '-n', '-c'], mixed);
  for (const after of [tool('gzip', ['-n', '-c'], Buffer.from('next member')), Buffer.from('07070100000000', 'latin1'), Buffer.alloc(4096)]) {
    // Small input pieces: the member end falls inside a piece read ahead, never on its edge.
    const r = await counted(() => decodeAll(decodeGzip, Buffer.concat([gz, after]), {}, 100_000));
    t.ok(r.value.out.equals(mixed));
    t.ok(r.value.rest.equals(after), `${after.length} bytes after the member`);
    t.ok(r.chunks >= 10);
  }
});

t.test('ls of an image with two large gzip members and an uncompressed cpio lists every entry, as cpio -t does', async (t) => {
  smallChunks();
  const tree = (name: string, seed: number) =>
    archiveOf(join(work, name), (root) => {
      writeFileSync(join(root, `${name}-lib.bin`), realisticData(2_500_000).subarray(seed));
      writeFileSync(join(root, `${name}-text`), mixed.subarray(3_000_000 + seed, 4_000_000));
      writeFileSync(join(root, `${name}-small`), `${name}\n`);
    });
  const a = tree('a', 1);
  const b = tree('b', 2);
  const c = tree('c', 3);
  const img = join(work, 'three.img');
  const gzA = tool('gzip', ['-6', '-n', '-c'], a);
  const gzB = tool('pigz', ['-9', '-n', '-c'], b);
  // Zero padding after each member keeps the cpio 4-byte aligned, as the kernel needs.
  writeFileSync(img, Buffer.concat([padTo(gzA, 4), padTo(gzB, 4), c]));
  const want = [a, b, c].map((p) => execFileSync('cpio', ['-t', '--quiet'], { input: p }).toString()).join('');
  const r = await counted(async () => {
    const names: string[] = [];
    for await (const e of listImage(img)) names.push(e.entry.name);
    return names;
  });
  t.equal(r.value.join('\n') + '\n', want);
  t.equal(r.members, 2, 'both members on the parallel path');
  t.ok(r.chunks >= 4, `${r.chunks} chunks`);
});

/** The error decoding `gz` ends with (undefined if none). */
async function failure(gz: Buffer, opts = {}): Promise<unknown> {
  try {
    await decodeAll(decodeGzip, gz, opts);
    return undefined;
  } catch (err) {
    return err;
  }
}

t.test('corrupt data in a later chunk: one FormatError naming a place at or before the damage', async (t) => {
  smallChunks();
  const gz = tool('gzip', ['-6', '-n', '-c'], mixed);
  for (const at of [Math.floor(gz.length * 0.4), Math.floor(gz.length * 0.8)]) {
    const bad = Buffer.from(gz);
    for (let i = 0; i < 64; i++) bad[at + i] ^= 0x5a;
    const r = await counted(() => failure(bad));
    const err = r.value;
    t.equal(r.members, 1, 'on the parallel path');
    t.type(err, FormatError, `damage at ${at}`);
    const e = err as FormatError;
    t.match(e.message, /corrupt gzip data|CRC-32 mismatch|ISIZE mismatch/);
    if (/corrupt gzip data/.test(e.message)) {
      t.ok(e.where.offset !== undefined && e.where.offset <= at + 64, `offset ${e.where.offset}`);
      t.ok(e.where.offset! > 0.25 * gz.length, 'not sent back to the member start');
    }
  }
});

t.test('truncated member: the same "truncated gzip data" error as the streaming path', async (t) => {
  smallChunks();
  const gz = tool('gzip', ['-6', '-n', '-c'], mixed);
  for (const keep of [Math.floor(gz.length * 0.7), gz.length - 4]) {
    const err = await failure(gz.subarray(0, keep));
    t.type(err, FormatError);
    t.match((err as Error).message, /truncated gzip data|corrupt gzip data/, `cut at ${keep}`);
  }
});

t.test('decompression bomb: a member expanding past maxOutput stops with the guard error, in bounded memory', async (t) => {
  smallChunks();
  // 1 GB of zeros, about 1 MB compressed: every chunk job expands ~1000-fold.
  const bomb = execFileSync('sh', ['-c', 'head -c 1000000000 /dev/zero | gzip -9 -n -c'], { maxBuffer: 1 << 26 });
  const before = process.memoryUsage().rss;
  const r = await counted(() => failure(bomb, { maxOutput: 50_000_000 }));
  const err = r.value;
  t.type(err, FormatError);
  t.match((err as Error).message, /expands beyond the 50000000-byte output limit \(decompression bomb guard\)/);
  t.equal(r.members, 1, 'the parallel path saw it');
  t.ok(process.memoryUsage().rss - before < 400 * 2 ** 20, 'no gigabyte of output held');
});

t.test('decompression bomb without a limit: chunks expanding past the job cap are left to streaming, output exact', async (t) => {
  smallChunks();
  const gz = execFileSync('sh', ['-c', 'head -c 300000000 /dev/zero | gzip -9 -n -c'], { maxBuffer: 1 << 26 });
  const r = await counted(async () => {
    const h = createHash('sha256');
    let n = 0;
    for await (const d of decodeGzip(new BufferInput(gz), {})) {
      h.update(d);
      n += d.length;
    }
    return { digest: h.digest('hex'), n };
  });
  t.equal(r.value.n, 300_000_000);
  t.equal(r.value.digest, createHash('sha256').update(Buffer.alloc(300_000_000)).digest('hex'));
  t.equal(r.members, 1);
  t.equal(r.fallbacks, 1, 'a job over the cap stopped, streaming took over');
});

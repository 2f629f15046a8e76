// gzip inflated on the thread pool ahead of a busy consumer (extract): byte-exact against gzip -dc, and every
// failure (corruption, a cut, the bomb guard, a consumer that stops) ends as the streaming path's does.
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import zlib from 'node:zlib';
import { chunks } from '../../src/compression/buffers.js';
import { decodeGzip } from '../../src/compression/gzip.js';
import { FileSource } from '../../src/image/file-source.js';
import { recompressed } from '../helpers/real-images.js';
import { BufferInput, decodeAll, realisticData, tool } from './helpers.js';

const AHEAD = { heavyConsumer: true };
const mixed = Buffer.concat([realisticData(3_000_000), Buffer.from(execFileSync('sh', ['-c', 'cat /usr/share/common-licenses/* | head -c 1500000'])), realisticData(1_000_000)]);

t.test('the distribution image recompressed with gzip -6: identical to gzip -dc, in a few pooled chunks', async (t) => {
  const img = recompressed('gzip');
  const want = createHash('sha256');
  await new Promise<void>((resolve, reject) => createReadStream(img).pipe(zlib.createGunzip()).on('data', (d: Buffer) => want.update(d)).on('end', resolve).on('error', reject));
  const src = await FileSource.open(img);
  const got = createHash('sha256');
  const before = chunks.allocated;
  let rest = 0;
  try {
    for await (const d of decodeGzip(src, AHEAD)) {
      got.update(d);
      // The consumer is the last reader: each chunk goes back, as the cpio parser does it.
      chunks.give(d);
    }
    for (let b = await src.read(); b; b = await src.read()) rest += b.length;
  } finally {
    await src.close();
  }
  t.equal(got.digest('hex'), want.digest('hex'));
  t.equal(rest, 0, 'nothing after the member');
  // 146 MB of output in 512 KiB chunks is 282 of them: the same few go round.
  t.ok(chunks.allocated - before <= 16, `${chunks.allocated - before} chunks made`);
});

for (const [name, cmd] of [
  ['gzip -1', ['gzip', '-1', '-n', '-c']],
  ['gzip -9', ['gzip', '-9', '-n', '-c']],
  ['pigz', ['pigz', '-6', '-n', '-c']],
] as const) {
  t.test(`${name} of mixed text and binary data: exact`, async (t) => {
    const gz = tool(cmd[0], [...cmd.slice(1)], mixed);
    const r = await decodeAll(decodeGzip, gz, AHEAD);
    t.ok(r.out.equals(mixed));
    t.equal(r.rest.length, 0);
  });
}

t.test('stored blocks, long zero runs: exact', async (t) => {
  const data = Buffer.concat([realisticData(1_000_000), randomBytes(2_000_000), Buffer.alloc(3_000_000), realisticData(500_000)]);
  const gz = tool('gzip', ['-6', '-n', '-c'], data);
  t.ok((await decodeAll(decodeGzip, gz, AHEAD)).out.equals(data));
});

t.test('a member followed by more data hands back exactly the bytes after it', async (t) => {
  const gz = tool('gzip', ['-6', '-n', '-c'], mixed);
  for (const after of [tool('gzip', ['-n', '-c'], Buffer.from('next member')), Buffer.from('07070100000000', 'latin1'), Buffer.alloc(4096)]) {
    // Small input pieces: the member end falls inside a piece read ahead, never on its edge.
    const r = await decodeAll(decodeGzip, Buffer.concat([gz, after]), AHEAD, 100_000);
    t.ok(r.out.equals(mixed));
    t.ok(r.rest.equals(after), `${after.length} bytes after the member`);
  }
});

/** What decoding gives before it stops: the output (salvage) and the error. */
async function outcome(gz: Buffer, opts: object): Promise<{ out: Buffer; err?: { name: string; message: string; offset?: number } }> {
  const parts: Buffer[] = [];
  try {
    for await (const d of decodeGzip(new BufferInput(gz, 64 * 1024), opts)) parts.push(Buffer.from(d));
    return { out: Buffer.concat(parts) };
  } catch (e) {
    const f = e as Error & { where?: { offset?: number } };
    return { out: Buffer.concat(parts), err: { name: f.constructor.name, message: f.message, offset: f.where?.offset } };
  }
}

t.test('corrupt data: the same error, offset and salvaged output as the streaming path', async (t) => {
  const gz = tool('gzip', ['-6', '-n', '-c'], mixed);
  for (const at of [Math.floor(gz.length * 0.4), Math.floor(gz.length * 0.8)]) {
    const bad = Buffer.from(gz);
    for (let i = 0; i < 64; i++) bad[at + i]! ^= 0x5a;
    const streaming = await outcome(bad, {});
    const ahead = await outcome(bad, AHEAD);
    t.equal(streaming.err?.name, 'FormatError', `damage at ${at}`);
    t.same(ahead.err, streaming.err);
    t.ok(ahead.out.equals(streaming.out), `${ahead.out.length} bytes salvaged`);
    t.ok(ahead.out.length > 0.25 * mixed.length, 'what came before the damage is kept');
  }
});

t.test('a cut member: "truncated gzip data" and the salvaged output of the streaming path', async (t) => {
  const gz = tool('gzip', ['-6', '-n', '-c'], mixed);
  for (const keep of [Math.floor(gz.length * 0.3), Math.floor(gz.length * 0.7), gz.length - 4]) {
    const streaming = await outcome(gz.subarray(0, keep), {});
    const ahead = await outcome(gz.subarray(0, keep), AHEAD);
    t.match(ahead.err?.message, /truncated gzip data/, `cut at ${keep}`);
    t.same(ahead.err, streaming.err);
    t.ok(ahead.out.equals(streaming.out));
    t.ok(mixed.subarray(0, ahead.out.length).equals(ahead.out), `${ahead.out.length} bytes salvaged, all right`);
  }
});

t.test('decompression bomb: a member expanding past maxOutput stops with the guard error, in bounded memory', async (t) => {
  // 1 GB of zeros, about 1 MB compressed.
  const bomb = execFileSync('sh', ['-c', 'head -c 1000000000 /dev/zero | gzip -9 -n -c'], { maxBuffer: 1 << 26 });
  const before = process.memoryUsage().rss;
  const r = await outcome(bomb, { ...AHEAD, maxOutput: 50_000_000 });
  t.equal(r.err?.name, 'FormatError');
  t.match(r.err?.message, /expands beyond the 50000000-byte output limit \(decompression bomb guard\)/);
  t.ok(r.out.length <= 50_000_000);
  t.ok(process.memoryUsage().rss - before < 200 * 2 ** 20, 'no gigabyte of output held');
});

t.test('a slow consumer holds the inflater back: output waiting never passes a few chunks', async (t) => {
  const gz = execFileSync('sh', ['-c', 'head -c 200000000 /dev/zero | gzip -1 -n -c'], { maxBuffer: 1 << 26 });
  const before = chunks.allocated;
  let n = 0;
  for await (const d of decodeGzip(new BufferInput(gz), AHEAD)) {
    n += d.length;
    chunks.give(d);
    // Let the inflater run as far as it may.
    if (n % (16 * 2 ** 20) < d.length) await new Promise((r) => setTimeout(r, 5));
  }
  t.equal(n, 200_000_000);
  t.ok(chunks.allocated - before <= 16, `${chunks.allocated - before} chunks made for 200 MB`);
});

t.test('a consumer that stops early: no step is left running, and the chunks it had are not reused under it', async (t) => {
  const gz = tool('gzip', ['-6', '-n', '-c'], mixed);
  for (let i = 0; i < 5; i++) {
    const seen: Buffer[] = [];
    for await (const d of decodeGzip(new BufferInput(gz), AHEAD)) {
      seen.push(d);
      if (seen.length === 2) break;
    }
    const copy = Buffer.concat(seen.map((d) => Buffer.from(d)));
    // Another member decoded now takes chunks from the pool; those two were never given back, so stay as they were.
    const again = await decodeAll(decodeGzip, gz, AHEAD);
    t.ok(again.out.equals(mixed));
    t.ok(Buffer.concat(seen).equals(copy), 'the chunks held are untouched');
    t.ok(mixed.subarray(0, copy.length).equals(copy));
  }
});

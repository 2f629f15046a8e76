// The read path's steady state takes no new memory: a whole image goes
// through a few pooled chunks, however large it is.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChunkPool, chunks } from '../../src/compression/buffers.js';
import { listImage } from '../../src/image/list.js';
import { BUNDLE, rdrescue } from '../helpers/cli.js';
import { distributionCpio, distributionImage, recompressed } from '../helpers/real-images.js';

t.test('a chunk given back is reused; other memory and a second give are ignored', async (t) => {
  const pool = new ChunkPool(4096);
  const a = pool.take();
  pool.give(a.subarray(100, 200));
  t.equal(pool.take().buffer, a.buffer, 'the same memory again, from a view of it');
  pool.give(a);
  pool.give(a);
  pool.give(Buffer.alloc(4096));
  const [x, y] = [pool.take(), pool.take()];
  t.not(x, y, 'given twice, handed out once');
  t.equal(pool.allocated, 2);
});

// The most chunks each path may make. Inflating on this thread for a listing, the decoder is never
// asked for more than the chunk the parser takes next (src/image/read.ts: READ_AHEAD): 12 chunks
// when it was asked for 4 MiB ahead, 5 now.
const paths: Array<[string, () => string, number]> = [
  ['uncompressed (146 MB, seeking)', distributionCpio, 20],
  ['gzip inflated on this thread', () => recompressed('gzip'), 6],
  ['zstd through the zstd program', distributionImage, 20],
  ['xz through xz -T0', () => recompressed('xz'), 20],
];
for (const [what, image, most] of paths) {
  t.test(`listing the distribution image, ${what}, takes a bounded number of chunks`, async (t) => {
    const path = image();
    const before = chunks.allocated;
    let n = 0;
    for await (const _ of listImage(path)) n++;
    const made = chunks.allocated - before;
    t.ok(n > 1000, `${n} entries`);
    // 146 MB of cpio data would be ~280 chunks without reuse.
    t.ok(made <= most, `${made} chunks of ${chunks.size} bytes made`);
  });
}

const node24 = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..', 'node_modules', 'node24', 'bin', 'node');
t.test("Node 24's zstd in node:zlib, into pooled chunks, lists what the zstd program lists", { skip: !existsSync(node24) && 'node_modules/node24 missing' }, async (t) => {
  // A PATH without the zstd program: node:zlib's zstd is the decoder then.
  const bin = mkdtempSync(join(tmpdir(), 'rdrescue-nozstd-'));
  t.teardown(() => rmSync(bin, { recursive: true, force: true }));
  for (const p of ['dd', 'mkfifo']) symlinkSync(execFileSync('sh', ['-c', `command -v ${p}`]).toString().trim(), join(bin, p));
  const img = distributionImage();
  const viaZlib = spawnSync(node24, [BUNDLE, 'ls', '-l', img], { env: { ...process.env, PATH: bin }, maxBuffer: 1 << 28 });
  t.equal(viaZlib.status, 0, viaZlib.stderr.toString());
  t.equal(viaZlib.stdout.toString(), rdrescue(['ls', '-l', img]).stdout, 'same listing as through the zstd program');
});

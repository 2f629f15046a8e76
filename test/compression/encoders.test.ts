import t from 'tap';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { COMPRESSIONS, CODECS, decoderFor, encoderFor } from '../../src/compression/index.js';
import type { Compression } from '../../src/compression/types.js';
import { RdError } from '../../src/errors.js';
import { decodeAll, realisticData, tool } from './helpers.js';

/** How the real tool reads each format back (the oracle for "kernel-readable"). */
const READERS: Record<Compression, [string, string[]]> = {
  gzip: ['gzip', ['-dc']],
  zstd: ['zstd', ['-dc', '-q']],
  xz: ['xz', ['-dc']],
  lzma: ['xz', ['--format=lzma', '-dc']],
  lz4: ['lz4', ['-dc', '-q']],
  bzip2: ['bzip2', ['-dc']],
  lzo: ['lzop', ['-dc']],
};

const data = realisticData(2_000_000);

async function* pieces(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let o = 0; o < buf.length; o += size) yield buf.subarray(o, o + size);
}

async function encode(c: Compression, input: Buffer, level?: number): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const b of encoderFor(c)(pieces(input, 100_000), level === undefined ? {} : { level })) out.push(b);
  return Buffer.concat(out);
}

for (const c of COMPRESSIONS) {
  t.test(`${c} encoder: the real tool and our decoder read it back`, async (t) => {
    const comp = await encode(c, data);
    t.ok(comp.length < data.length * 0.7, `compressed to ${comp.length} bytes`);
    t.ok(tool(READERS[c][0], READERS[c][1], comp).equals(data), `${READERS[c].flat().join(' ')} gives the input back`);
    const r = await decodeAll(decoderFor(c), comp, { native: false });
    t.ok(r.out.equals(data), 'built-in decoder gives the input back');
    t.equal(r.rest.length, 0);
  });
}

t.test('xz encoder writes what the kernel needs: CRC-32 check, LZMA2 with a 1 MiB dictionary', async (t) => {
  const comp = await encode('xz', data);
  t.equal(comp[7], 1, 'stream flags: check type 1 (CRC-32)');
  const file = join(mkdtempSync(join(tmpdir(), 'rdrescue-xz-')), 'x.xz');
  writeFileSync(file, comp);
  const listing = spawnSync('xz', ['--robot', '-lvv', file], { encoding: 'utf8' }).stdout;
  t.match(listing, /CRC32/);
  t.match(listing, /--lzma2=[^\s]*dict=1MiB/);
});

t.test('lz4 encoder writes the legacy frame, in 8 MiB blocks, even for incompressible and tiny input', async (t) => {
  const comp = await encode('lz4', data);
  t.same([...comp.subarray(0, 4)], [0x02, 0x21, 0x4c, 0x18]);
  const mixed = Buffer.concat([randomBytes(3 << 20), Buffer.alloc(7 << 20, 'ab'), realisticData(3_000_000)]);
  const mixedComp = await encode('lz4', mixed);
  t.ok(tool('lz4', ['-dc', '-q'], mixedComp).equals(mixed), '13 MB over two blocks: lz4 -dc agrees');
  t.ok((await decodeAll(decoderFor('lz4'), mixedComp, { native: false })).out.equals(mixed), 'and so does the built-in decoder');
  for (const tiny of ['', 'a', 'abcdabcdabcdabcd']) {
    const c = await encode('lz4', Buffer.from(tiny));
    t.equal(tool('lz4', ['-dc', '-q'], c).toString(), tiny, JSON.stringify(tiny));
  }
});

t.test('gzip and zstd encoders honour the level', async (t) => {
  for (const c of ['gzip', 'zstd'] as const) {
    const fast = await encode(c, data, 1);
    const small = await encode(c, data, 9);
    t.ok(small.length < fast.length, `${c}: level 9 (${small.length}) smaller than level 1 (${fast.length})`);
  }
});

t.test('a missing compressor program names the Debian package to install', async (t) => {
  const saved = process.env.PATH;
  process.env.PATH = '/nonexistent';
  try {
    for (const c of ['xz', 'lzma', 'bzip2', 'lzo'] as const) {
      const err = await encode(c, Buffer.from('x')).catch((e) => e);
      t.type(err, RdError, c);
      t.match(err.message, new RegExp(`apt-get install ${CODECS[c].debianPackage}`), err.message);
    }
  } finally {
    process.env.PATH = saved;
  }
});

t.test('a compressor that fails is reported with its exit status', async (t) => {
  const err = await encode('xz', Buffer.from('x'), 99).catch((e) => e);
  t.type(err, RdError);
  t.match(err.message, /xz .* failed with exit status/);
});

t.test('Node 24 (the single executable): node:zlib zstd decodes and encodes', async (t) => {
  const node24 = resolve('node_modules/node24/bin/node');
  const dir = mkdtempSync(join(tmpdir(), 'rdrescue-node24-'));
  const script = join(dir, 'check.mts');
  const index = resolve('src/compression/index.ts');
  const zstdTs = resolve('src/compression/zstd.ts');
  writeFileSync(
    script,
    `import { decoderFor, encoderFor } from ${JSON.stringify(index)};
import { nativeZstd } from ${JSON.stringify(zstdTs)};
import { execFileSync } from 'node:child_process';
const data = Buffer.alloc(3_000_000, 'initramfs ');
const comp = execFileSync('zstd', ['-c', '-q'], { input: data });
let back: Buffer[] = [];
const input = { pos: 0, read: async () => null as Buffer | null, unread: (_: Buffer) => {} };
let given = false;
input.read = async () => { if (given) return null; given = true; return Buffer.concat([comp, Buffer.from('REST')]); };
let rest = Buffer.alloc(0);
input.unread = (b: Buffer) => { rest = Buffer.from(b); };
for await (const b of decoderFor('zstd')(input, {})) back.push(b);
const enc: Buffer[] = [];
async function* src() { yield data; }
for await (const b of encoderFor('zstd')(src(), { level: 3 })) enc.push(b);
const round = execFileSync('zstd', ['-dc', '-q'], { input: Buffer.concat(enc), maxBuffer: 1 << 26 });
console.log(JSON.stringify({ native: nativeZstd, same: Buffer.concat(back).equals(data), rest: rest.toString(), encoded: round.equals(data) }));
`,
  );
  const r = spawnSync(node24, ['--import', 'tsx', script], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  t.same(JSON.parse(r.stdout.trim()), { native: true, same: true, rest: 'REST', encoded: true });
});

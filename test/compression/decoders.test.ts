import t from 'tap';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import zlib from 'node:zlib';
import { decoderFor, COMPRESSIONS } from '../../src/compression/index.js';
import type { Compression } from '../../src/compression/types.js';
import { nativeZstd } from '../../src/compression/zstd.js';
import { FormatError } from '../../src/errors.js';
import { decodeAll, realisticData, tool } from './helpers.js';

/** The real tool that writes each format the way initramfs generators do. */
const WRITERS: Record<Compression, [string, string[]]> = {
  gzip: ['gzip', ['-c', '-n']],
  zstd: ['zstd', ['-q', '-c']],
  xz: ['xz', ['--check=crc32', '--lzma2=dict=1MiB', '-c']],
  lzma: ['xz', ['--format=lzma', '-c']],
  lz4: ['lz4', ['-l', '-q', '-c']],
  bzip2: ['bzip2', ['-c']],
  lzo: ['lzop', ['-c']],
};

/** Formats whose corruption is always detected (a checksum covers the output). lz4 and lzma have none. */
const CHECKED = new Set<Compression>(['gzip', 'zstd', 'xz', 'bzip2', 'lzo']);

const compress = (c: Compression, data: Buffer, extra: string[] = []) => tool(WRITERS[c][0], [...WRITERS[c][1], ...extra], data);

const big = realisticData(3_000_000);
const small = realisticData(20_000);
const NEWC = Buffer.from('070701' + '0'.repeat(104) + 'TRAILER!!!\0');

/** A run with a wall-clock limit: a decoder that hangs fails the test instead of stalling the suite. */
async function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no result within ${ms} ms (hang)`)), ms);
  });
  try {
    return await Promise.race([p, limit]);
  } finally {
    clearTimeout(timer);
  }
}

async function outcome(c: Compression, data: Buffer, native: boolean, chunk?: number) {
  try {
    return { ok: await within(20000, decodeAll(decoderFor(c), data, { native }, chunk)) };
  } catch (e) {
    return { err: e as Error };
  }
}

for (const c of COMPRESSIONS) {
  t.test(`${c}: output of the real ${WRITERS[c][0]} decodes byte-identically`, async (t) => {
    const comp = compress(c, big);
    for (const native of [true, false]) {
      const r = await decodeAll(decoderFor(c), comp, { native });
      t.ok(r.out.equals(big), `native=${native}: ${r.out.length} bytes identical`);
      t.equal(r.rest.length, 0, 'nothing left over');
      t.ok(r.chunks >= 2, `output streamed in ${r.chunks} chunks`);
    }
  });

  t.test(`${c}: exactly the bytes after the member are left for the next segment`, async (t) => {
    const comp = compress(c, small);
    const gz = zlib.gzipSync(Buffer.from('next member'));
    const followers: Array<[string, Buffer]> = [
      ['zero padding then an uncompressed cpio', Buffer.concat([Buffer.alloc(7), NEWC])],
      ['zero padding then a gzip member', Buffer.concat([Buffer.alloc(4), gz])],
      ['garbage', Buffer.from('\x01garbage that is not compressed')],
    ];
    // lz4's legacy frame has no end marker: like the kernel, only zero padding (or the end of the input) ends it.
    if (c !== 'lz4') followers.push(['another member right away', gz]);
    for (const [what, follow] of followers) {
      if (c === 'lz4' && what === 'garbage') continue;
      for (const chunk of [1 << 20, 7, 1]) {
        const r = await decodeAll(decoderFor(c), Buffer.concat([comp, follow]), { native: false }, chunk);
        t.ok(r.out.equals(small), `${what}, ${chunk}-byte reads: output identical`);
        t.ok(r.rest.equals(follow), `${what}, ${chunk}-byte reads: the ${follow.length} following bytes are unread`);
      }
    }
  });

  t.test(`${c}: 7-byte reads of a larger member`, async (t) => {
    const data = big.subarray(0, 400_000);
    const r = await decodeAll(decoderFor(c), Buffer.concat([compress(c, data), Buffer.alloc(16)]), { native: false }, 7);
    t.ok(r.out.equals(data), 'identical');
    t.equal(r.rest.length, 16, 'padding unread');
  });

  t.test(`truncated ${c} member: an error at every cut point, never a hang`, async (t) => {
    const comp = compress(c, small);
    const cuts = new Set<number>([1, 2, 3, 4, 5, 8, 12, 13, 16, 20, comp.length - 1, comp.length - 2, comp.length - 4, comp.length - 8]);
    for (let k = 1; k < 40; k++) cuts.add(Math.floor((comp.length * k) / 40));
    const start = Date.now();
    for (const cut of [...cuts].filter((n) => n > 0 && n < comp.length).sort((a, b) => a - b)) {
      for (const native of [true, false]) {
        const r = await outcome(c, comp.subarray(0, cut), native, cut % 2 ? 1 : 4096);
        // lz4's legacy frame has no end marker: like the kernel, fewer than 4 bytes after a block end the member.
        if (c === 'lz4' && r.ok && r.ok.rest.length < 4 && small.subarray(0, r.ok.out.length).equals(r.ok.out)) continue;
        t.type(r.err, FormatError, `cut at ${cut}/${comp.length} (native=${native}): ${r.err?.message ?? 'no error'}`);
      }
    }
    t.ok(Date.now() - start < 60000, 'all cut points finished');
  });

  t.test(`corrupt ${c} member: flipped bytes give FormatError${CHECKED.has(c) ? '' : ' or different output'}, never a crash or hang`, async (t) => {
    const comp = compress(c, small);
    let detected = 0;
    let tried = 0;
    for (let k = 0; k < 30; k++) {
      const at = 10 + Math.floor(((comp.length - 14) * k) / 30);
      const bad = Buffer.from(comp);
      bad[at] ^= 1 << (k % 8);
      for (const native of [true, false]) {
        tried++;
        const r = await outcome(c, bad, native);
        if (r.err) {
          t.type(r.err, FormatError, `flip at ${at} (native=${native}): ${r.err.message}`);
          detected++;
        } else if (CHECKED.has(c)) {
          t.fail(`flip at ${at} (native=${native}) went undetected`);
        }
      }
    }
    t.ok(detected > 0, `${detected}/${tried} corruptions detected`);
  });

  t.test(`${c} bomb guard: maxOutput stops a highly compressible member early`, async (t) => {
    const zeros = Buffer.alloc(16 << 20);
    const comp = compress(c, zeros);
    const parts: Buffer[] = [];
    let seen = 0;
    let err: unknown;
    try {
      const input = new (await import('./helpers.js')).BufferInput(comp, 1 << 16);
      for await (const p of decoderFor(c)(input, { maxOutput: 1 << 20, native: false })) {
        seen += p.length;
        parts.push(p);
      }
    } catch (e) {
      err = e;
    }
    t.type(err, FormatError);
    t.match((err as Error).message, /limit/);
    t.ok(seen <= 1 << 20, `only ${seen} bytes were handed out before the error`);
  });
}

t.test('gzip: header with FEXTRA, FNAME, FCOMMENT and FHCRC', async (t) => {
  const data = small;
  const deflated = zlib.deflateRawSync(data);
  const header = Buffer.concat([
    Buffer.from([0x1f, 0x8b, 8, 0x02 | 0x04 | 0x08 | 0x10, 0, 0, 0, 0, 0, 3]),
    Buffer.from([4, 0, 1, 2, 3, 4]),
    Buffer.from('name\0comment\0'),
    Buffer.from([0xaa, 0xbb]),
  ]);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(zlib.crc32(data) >>> 0, 0);
  trailer.writeUInt32LE(data.length, 4);
  const r = await decodeAll(decoderFor('gzip'), Buffer.concat([header, deflated, trailer, NEWC]), {}, 3);
  t.ok(r.out.equals(data));
  t.ok(r.rest.equals(NEWC));
});

t.test('gzip: a bad CRC names the cause and the trailer offset', async (t) => {
  const comp = Buffer.from(compress('gzip', small));
  comp[comp.length - 8] ^= 0xff;
  const r = await outcome('gzip', comp, true);
  t.match(r.err?.message, /CRC-32 mismatch/);
  t.equal((r.err as FormatError).where.offset, comp.length - 8);
});

t.test('gzip: old 1f 9e members are refused with the reason', async (t) => {
  const r = await outcome('gzip', Buffer.from([0x1f, 0x9e, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]), true);
  t.match(r.err?.message, /1f 9e/);
});

t.test('zstd: frames without checksum or content size, skippable frames and concatenated frames', async (t) => {
  const noCheck = compress('zstd', small, ['--no-check']);
  const streamed = tool('sh', ['-c', 'cat | zstd -q -c'], small); // from a pipe: no content size in the header
  const skippable = Buffer.alloc(12);
  skippable.writeUInt32LE(0x184d2a50, 0);
  skippable.writeUInt32LE(4, 4);
  const second = compress('zstd', Buffer.from('second frame'));
  for (const native of [true, false]) {
    for (const comp of [noCheck, streamed]) {
      const r = await decodeAll(decoderFor('zstd'), Buffer.concat([comp, skippable, second]), { native }, 5);
      t.ok(r.out.equals(small), `native=${native}: first frame only`);
      t.ok(r.rest.equals(Buffer.concat([skippable, second])), 'the skippable frame and the next frame are left, as the kernel leaves them');
    }
  }
});

t.test('zstd: a corrupt content checksum is caught on every path', async (t) => {
  const comp = Buffer.from(compress('zstd', small));
  comp[comp.length - 1] ^= 0xff;
  const builtIn = await outcome('zstd', comp, false);
  t.match(builtIn.err?.message, /content checksum mismatch/, `fzstd + XXH64: ${builtIn.err?.message}`);
  t.equal((builtIn.err as FormatError).where.offset, comp.length - 4);
  const native = await outcome('zstd', comp, true);
  t.type(native.err, FormatError, `${nativeZstd ? 'node:zlib zstd' : 'the zstd program'}: ${native.err?.message}`);
  t.notMatch(native.err?.message, /content checksum mismatch \(corrupt/, 'the native path reports its own message: native:false really switched decoder');
});

t.test('zstd content checksum (XXH64) matches what zstd writes, at every length class', async (t) => {
  for (const n of [0, 1, 4, 7, 8, 31, 32, 33, 64, 1000, 100_000]) {
    const data = randomBytes(n);
    const r = await decodeAll(decoderFor('zstd'), compress('zstd', data, ['--check']), { native: false }, 13);
    t.ok(r.out.equals(data), `${n} bytes`);
  }
});

t.test('lz4: the kernel rules for the end of a legacy frame', async (t) => {
  const a = compress('lz4', small);
  const b = compress('lz4', Buffer.from('second'));
  const joined = await decodeAll(decoderFor('lz4'), Buffer.concat([a, b]), {});
  t.ok(joined.out.equals(Buffer.concat([small, Buffer.from('second')])), 'a repeated frame magic continues the same member (unlz4 skips it)');
  const zeroEnd = await decodeAll(decoderFor('lz4'), Buffer.concat([a, Buffer.alloc(4), b]), {});
  t.ok(zeroEnd.out.equals(small), 'a zero block length ends the member');
  t.equal(zeroEnd.rest.length, 4 + b.length, 'the zero word stays for the padding skipper');
  const tail = await decodeAll(decoderFor('lz4'), Buffer.concat([a, Buffer.from([0, 0, 0])]), {});
  t.ok(tail.out.equals(small), 'fewer than 4 bytes after a block end it');
  t.equal(tail.rest.length, 3);
  const glued = await outcome('lz4', Buffer.concat([a, zlib.gzipSync(Buffer.from('x'))]), false);
  t.match(glued.err?.message, /without zero padding|corrupt lz4/, 'a member glued on without padding fails, as in the kernel');
});

t.test('xz: every check type, several blocks, and a second stream after the first', async (t) => {
  for (const args of [['--check=none'], ['--check=crc64'], ['--check=sha256'], ['-T2', '--block-size=300000']]) {
    const comp = compress('xz', big.subarray(0, 1_000_000), args);
    const next = compress('xz', Buffer.from('next'));
    for (const native of [true, false]) {
      const r = await decodeAll(decoderFor('xz'), Buffer.concat([comp, Buffer.alloc(8), next]), { native }, 4093);
      t.ok(r.out.equals(big.subarray(0, 1_000_000)), `${args.join(' ')}, native=${native}`);
      t.equal(r.rest.length, 8 + next.length, 'stream padding and the next stream are unread');
    }
  }
  const crc64 = Buffer.from(compress('xz', small, ['--check=crc64']));
  crc64[crc64.length - 28] ^= 1; // footer 12, index 12, then the 8-byte CRC-64 of the only block
  t.match((await outcome('xz', crc64, false)).err?.message, /CRC-64 mismatch/, 'CRC-64 verified');
  // Linux's x86 kernel payload: BCJ x86 before LZMA2. A real program holds E8/E9 operands across every chunk boundary.
  const program = readFileSync('/bin/ls');
  const x86 = tool('xz', ['--x86', '--lzma2=preset=6,dict=64KiB', '--check=crc32', '--block-size=50000', '-c'], program);
  const decoded = await decodeAll(decoderFor('xz'), x86, { native: false }, 4093);
  t.ok(decoded.out.equals(program), 'BCJ x86 decoded built in, byte for byte, across blocks and input chunks');
  const arm = await outcome('xz', tool('xz', ['--arm', '--lzma2', '-c'], small), false);
  t.match(arm.err?.message, /BCJ ARM is not supported/);
});

t.test('bzip2: several blocks, and concatenated streams are separate members', async (t) => {
  const data = big.subarray(0, 1_500_000);
  const a = compress('bzip2', data, ['-1']);
  const b = compress('bzip2', Buffer.from('second stream'));
  const r = await decodeAll(decoderFor('bzip2'), Buffer.concat([a, b]), { native: false }, 1000);
  t.ok(r.out.equals(data));
  t.ok(r.rest.equals(b));
  const runs = Buffer.concat([Buffer.alloc(300_000, 'a'), Buffer.from('b'), Buffer.alloc(2_000_000), randomBytes(1000)]);
  t.ok((await decodeAll(decoderFor('bzip2'), compress('bzip2', runs), {})).out.equals(runs), 'long runs (both run-length stages)');
});

t.test('lzo: levels, CRC-32 checksums and stored (incompressible) blocks', async (t) => {
  const data = Buffer.concat([big.subarray(0, 600_000), randomBytes(300_000)]);
  for (const args of [['-1'], ['-9'], ['--crc32']]) {
    for (const native of [true, false]) {
      const r = await decodeAll(decoderFor('lzo'), compress('lzo', data, args), { native });
      t.ok(r.out.equals(data), `${args.join(' ')}, native=${native}`);
    }
  }
  const comp = Buffer.from(compress('lzo', small));
  comp[20] ^= 1;
  t.match((await outcome('lzo', comp, false)).err?.message, /header checksum/);
});

t.test('memory exhaustion: a 4 GiB lzma dictionary in a hostile header is refused, not allocated', async (t) => {
  const header = Buffer.from([0x5d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0]);
  t.match((await outcome('lzma', header, false)).err?.message, /dictionary of 4294967295 bytes exceeds/);
});

t.test('lzma: dictionary sizes of lzma -0 and -9', async (t) => {
  for (const level of ['-0', '-9']) {
    const r = await decodeAll(decoderFor('lzma'), compress('lzma', big.subarray(0, 500_000), [level]), {});
    t.ok(r.out.equals(big.subarray(0, 500_000)), level);
  }
});

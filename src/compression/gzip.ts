import zlib from 'node:zlib';
import { FormatError } from '../errors.js';
import { crc32 } from './checksum.js';
import { OutputSink, salvaged } from './sink.js';
import { ByteSource } from './source.js';
import type { Decoder, DecodeOptions, Encoder, MemberInput } from './types.js';
import { inflateAhead } from './inflate-ahead.js';
import { pumpUntilEnd, ZlibInto } from './zlib-stream.js';

const FHCRC = 0x02;
const FEXTRA = 0x04;
const FNAME = 0x08;
const FCOMMENT = 0x10;

/** Deflate input per write: at most about 1032x expansion, so one write stays under ~34 MB of output. */
const SLICE = 256 * 1024;

/**
 * One gzip member: the header is parsed here (the kernel's gunzip only knows
 * FNAME; FEXTRA/FCOMMENT/FHCRC are accepted too), node:zlib inflates the raw
 * deflate data (on the thread pool, ahead of a consumer with work of its own:
 * inflate-ahead.ts), then the trailer's CRC-32 and ISIZE are checked (the
 * kernel skips them; a mismatch still means the image is damaged).
 */
export const decodeGzip: Decoder = (input, opts) => {
  const sink = new OutputSink('gzip', opts.maxOutput);
  return salvaged(sink, gzipMember(input, opts, sink));
};

async function* gzipMember(input: MemberInput, opts: DecodeOptions, sink: OutputSink): AsyncGenerator<Buffer, void, undefined> {
  const src = new ByteSource(input, 'gzip');
  await src.need(10);
  const h = src.take(10);
  if (h[0] !== 0x1f || (h[1] !== 0x8b && h[1] !== 0x9e)) throw new FormatError('not a gzip member (bad magic)', { offset: 0 });
  if (h[1] === 0x9e) throw new FormatError('old-style gzip (1f 9e) is not supported: the kernel rejects it too ("Not a gzip file")', { offset: 0 });
  if (h[2] !== 8) throw new FormatError(`unknown gzip compression method ${h[2]}`, { offset: 2 });
  const flags = h[3]!;
  if (flags & 0xe0) throw new FormatError('reserved gzip header flags are set', { offset: 3 });
  if (flags & FEXTRA) {
    await src.need(2);
    const xlen = src.take(2).readUInt16LE(0);
    await src.need(xlen);
    src.skip(xlen);
  }
  for (const flag of [FNAME, FCOMMENT]) {
    if (!(flags & flag)) continue;
    for (;;) {
      await src.need(1);
      if (src.take(1)[0] === 0) break;
    }
  }
  if (flags & FHCRC) {
    await src.need(2);
    src.skip(2);
  }
  let crc = 0;
  const onData = (d: Buffer) => {
    crc = crc32(d, crc);
  };
  const corrupt = (e: unknown, at: number) => new FormatError(`corrupt gzip data: ${(e as Error).message}`, { offset: at });
  src.reuseInput();
  if (opts.heavyConsumer) yield* inflateAhead(src, sink, { slice: SLICE, onData, describe: corrupt });
  else yield* pumpUntilEnd(src, new ZlibInto(zlib.createInflateRaw(), sink, onData), sink, SLICE, corrupt);
  await src.need(8);
  const trailerAt = src.offset;
  const trailer = src.take(8);
  if (trailer.readUInt32LE(0) !== crc) throw new FormatError('gzip CRC-32 mismatch (corrupt data)', { offset: trailerAt });
  if (trailer.readUInt32LE(4) !== sink.total % 2 ** 32) throw new FormatError('gzip ISIZE mismatch (corrupt data)', { offset: trailerAt + 4 });
  src.finish();
}

/** Input per deflate job; jobs run in parallel on libuv's thread pool, as pigz runs its blocks on threads. */
const ENCODE_BLOCK = 1 << 20;
/** Jobs in flight: enough to keep two cores busy while the output is written in order. */
const ENCODE_JOBS = 4;
/** Deflate's window: each block is primed with the 32 KiB before it, so the ratio stays that of one stream. */
const WINDOW = 32 * 1024;

const deflateRawAsync = (input: Buffer, opts: zlib.ZlibOptions) =>
  new Promise<Buffer>((resolve, reject) => zlib.deflateRaw(input, opts, (err, out) => (err ? reject(err) : resolve(out))));

/**
 * One gzip member written the pigz way: the input is cut into 1 MiB blocks,
 * each deflated on its own with the previous 32 KiB as dictionary and ended
 * with a sync flush, so the blocks join into one deflate stream. The output
 * depends only on the input and the level (reproducible), not on timing.
 */
export const encodeGzip: Encoder = async function* (source, opts) {
  const level = opts.level ?? 6;
  // mtime 0, no name: what `gzip -n` writes.
  yield Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, level === 9 ? 2 : level === 1 ? 4 : 0, 3]);
  let crc = 0;
  let size = 0;
  let window: Buffer | undefined;
  const jobs: Promise<Buffer>[] = [];
  const start = (block: Buffer) => {
    crc = zlib.crc32(block, crc);
    size += block.length;
    const job = deflateRawAsync(block, { level, finishFlush: zlib.constants.Z_SYNC_FLUSH, ...(window ? { dictionary: window } : {}) });
    // Marked handled now, awaited in order below.
    job.catch(() => undefined);
    jobs.push(job);
    window = Buffer.from(block.subarray(Math.max(0, block.length - WINDOW)));
  };
  let parts: Buffer[] = [];
  let have = 0;
  for await (const chunk of source) {
    parts.push(chunk);
    have += chunk.length;
    while (have >= ENCODE_BLOCK) {
      const all = parts.length === 1 ? parts[0]! : Buffer.concat(parts, have);
      start(all.subarray(0, ENCODE_BLOCK));
      parts = have > ENCODE_BLOCK ? [all.subarray(ENCODE_BLOCK)] : [];
      have -= ENCODE_BLOCK;
      while (jobs.length >= ENCODE_JOBS) yield await jobs.shift()!;
    }
  }
  if (have > 0) start(parts.length === 1 ? parts[0]! : Buffer.concat(parts, have));
  for (const job of jobs.splice(0)) yield await job;
  // An empty final block closes the deflate stream.
  yield await deflateRawAsync(Buffer.alloc(0), { level });
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE(size % 2 ** 32, 4);
  yield trailer;
};

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import zlib from 'node:zlib';
import { Decompress } from 'fzstd';
import { FormatError } from '../errors.js';
import { findProgram, pipeProgram, pipeThrough, programFeed, type Feed } from './pipe.js';
import { OutputSink, salvaged } from './sink.js';
import { ByteSource } from './source.js';
import type { Decoder, DecodeOptions, Encoder, MemberInput } from './types.js';
import { Xxh64 } from './xxh64.js';
import { ZlibInto } from './zlib-stream.js';

const MAX_BLOCK = 128 * 1024;
/** Blocks handed to the decompressor per call: each expands to at most 128 KiB, so a call yields at most 4 MiB. */
const BLOCKS_PER_WRITE = 32;

type ZstdZlib = typeof zlib & {
  createZstdDecompress?: (o?: { chunkSize?: number }) => zlib.Inflate;
  createZstdCompress?: (o?: { params?: Record<number, number> }) => zlib.Deflate;
  constants: typeof zlib.constants & { ZSTD_c_compressionLevel?: number; ZSTD_c_checksumFlag?: number };
};
const z = zlib as ZstdZlib;

/** node:zlib has zstd from Node 22.15 / 23.8 (the single executable's Node 24 has it; Node 20 does not). */
export const nativeZstd = typeof z.createZstdDecompress === 'function';

/**
 * One zstd frame. The frame's end is found by walking its header and block
 * headers (no decoding needed), so whatever follows (padding, another member)
 * is handed back exactly. Only the frame's bytes reach the decompressor:
 * node:zlib's zstd where Node has it (24, the single executable), unless
 * the consumer is heavy (extract) and the program is there; else the
 * zstd program reading them from the image file itself (through GNU dd
 * unless the frame is the whole file); else the zstd program fed by this
 * process (about 12x fzstd on Node 20, same bytes); else (and always with
 * `native: false`) fzstd. The content checksum, when present, is verified on
 * every path.
 *
 * Skippable frames (magic 0x184D2A5?) are not part of a member: the kernel's
 * unzstd stops at the end of the first frame, and initramfs.c would then meet
 * the skippable frame's magic as unknown data. The caller sees them the same way.
 */
export const decodeZstd: Decoder = (input, opts) => {
  const sink = new OutputSink('zstd', opts.maxOutput);
  return salvaged(sink, zstdMember(input, opts, sink));
};

async function* zstdMember(input: MemberInput, opts: DecodeOptions, sink: OutputSink): AsyncGenerator<Buffer, void, undefined> {
  const src = new ByteSource(input, 'zstd');
  await src.need(5);
  const head = src.peek(5);
  if (head.readUInt32LE(0) !== 0xfd2fb528) throw new FormatError('not a zstd frame (bad magic)', { offset: 0 });
  const fhd = head[4]!;
  if (fhd & 0x08) throw new FormatError('zstd frame header has its reserved bit set', { offset: 4 });
  const fcsFlag = fhd >> 6;
  const single = (fhd >> 5) & 1;
  const hasChecksum = (fhd >> 2) & 1;
  const dictLen = [0, 1, 2, 4][fhd & 3]!;
  const fcsLen = fcsFlag === 0 ? single : [0, 2, 4, 8][fcsFlag]!;
  const headerLen = 5 + (single ? 0 : 1) + dictLen + fcsLen;
  await src.need(headerLen);

  // For a light consumer (ls) node:zlib's zstd on this thread beats the program on another core: no program to
  // start, no copy of the output through a fifo (ls of the distribution image 0.23 s against 0.27 s). A consumer
  // with work of its own (extract) gains from the other core: extract into tmpfs 0.33 s against 0.42 s.
  const zstdProgram = () => (opts.native !== false && src.origin ? findProgram('zstd') : undefined);
  if (opts.native !== false && nativeZstd && !(opts.heavyConsumer && zstdProgram())) {
    yield* zlibFrame(src, headerLen, hasChecksum === 1, sink);
    return;
  }
  const program = zstdProgram();
  // fzstd does not read the content checksum: it is checked here (node:zlib and the zstd program check it themselves).
  let hash: Xxh64 | undefined;
  const builtIn = () => {
    hash = hasChecksum ? new Xxh64() : undefined;
    return fzstdFeed(sink, hash);
  };
  // In a file the frame's length is found first, from its block headers read in place, so the program starts at once.
  const length = program ? frameLengthInFile(src.origin!.path, src.origin!.start, headerLen, hasChecksum === 1) : undefined;
  const args = ['-d', '-c', '-q'];
  const direct = length === undefined ? undefined : programFeed('zstd', args, sink, { origin: src.origin, reach: length, direct: true });
  const dec = opts.native === false ? builtIn() : (direct ?? programFeed('zstd', args, sink, { origin: src.origin }) ?? builtIn());
  let expected = 0;
  let checksumAt = 0;
  const corrupt = (e: unknown, at: number) =>
    e instanceof FormatError ? e : new FormatError(`corrupt zstd data${dec.whole ? ' in the member starting here' : ''}: ${(e as Error).message}`, { offset: dec.whole ? 0 : at });
  try {
    if (direct && length !== undefined) {
      // The program reads the frame itself: the walk below would only find the length again.
      while (
        !(await dec.end().catch((e) => {
          throw corrupt(e, 0);
        }))
      ) {
        yield* sink.drain();
      }
      yield* sink.drain();
      // dd has read the frame: it is skipped here, not read a second time.
      await src.discard(length);
      src.finish();
      return;
    }
    let batch: Buffer[] = [src.take(headerLen)];
    let batchStart = 0;
    for (let last = false; !last; ) {
      const h = await nextBlock(src);
      last = h.last;
      await src.need(h.len);
      batch.push(src.take(h.len));
      if (last && hasChecksum) {
        await src.need(4);
        checksumAt = src.offset;
        expected = src.peek(4).readUInt32LE(0);
        batch.push(src.take(4));
      }
      if (last || batch.length >= BLOCKS_PER_WRITE) {
        while (
          !(await dec.write(batch).catch((e) => {
            throw corrupt(e, batchStart);
          }))
        ) {
          yield* sink.drain();
        }
        batch = [];
        batchStart = src.offset;
        if (sink.ready) yield* sink.drain();
      }
    }
    while (
      !(await dec.end().catch((e) => {
        throw corrupt(e, src.offset);
      }))
    ) {
      yield* sink.drain();
    }
    if (hash && hash.digest32() !== expected) throw new FormatError('zstd content checksum mismatch (corrupt data)', { offset: checksumAt });
  } finally {
    dec.close();
  }
  // The zstd program's output lags its input: what is left can be several chunks.
  yield* sink.drain();
  src.finish();
}

/**
 * node:zlib's zstd (Node 24), on this thread, into pooled chunks. Block by
 * block, so the frame's end is known without trusting the decoder to stop
 * there, and each block in the pieces it was read in: gathering a block
 * that crosses a read chunk would copy it into fresh memory. libzstd checks
 * the content checksum itself.
 */
async function* zlibFrame(src: ByteSource, headerLen: number, checksum: boolean, sink: OutputSink): AsyncGenerator<Buffer, void, undefined> {
  src.reuseInput();
  const dec = new ZlibInto(z.createZstdDecompress!(), sink);
  const feed = (b: Buffer, at: number) => {
    try {
      for (let off = 0; off < b.length; ) off += dec.step(b, off, b.length - off);
    } catch (e) {
      throw e instanceof FormatError ? e : new FormatError(`corrupt zstd data: ${(e as Error).message}`, { offset: at });
    }
  };
  try {
    feed(src.take(headerLen), 0);
    for (let last = false; !last; ) {
      const at = src.offset;
      const h = await nextBlock(src);
      last = h.last;
      await src.pass(h.len, (piece) => feed(piece, at));
      if (sink.ready) yield* sink.drain();
    }
    if (checksum) {
      const at = src.offset;
      await src.pass(4, (piece) => feed(piece, at));
    }
    try {
      dec.finish();
    } catch (e) {
      throw new FormatError(`corrupt zstd data: ${(e as Error).message}`, { offset: src.offset });
    }
  } catch (e) {
    dec.emit();
    throw e;
  } finally {
    dec.close();
  }
  yield* sink.drain();
  src.finish();
}

function fzstdFeed(sink: OutputSink, hash: Xxh64 | undefined): Feed {
  const d = new Decompress((chunk) => {
    hash?.update(chunk);
    sink.push(Buffer.from(chunk));
  });
  return {
    write: async (parts) => {
      for (const p of parts) d.push(p);
      return true;
    },
    end: async () => {
      d.push(new Uint8Array(0), true);
      return true;
    },
    close: () => undefined,
  };
}

/** node:zlib's zstd where available, else the zstd program (Debian package zstd). */
export const encodeZstd: Encoder = async function* (source, opts) {
  const level = opts.level ?? 3;
  // The zstd program compresses with all cores (-T0); node:zlib's streaming zstd is single-threaded
  // (1.43 s against 0.93 s for the distribution tree at -3), so the program goes first when present.
  if (findProgram('zstd') || typeof z.createZstdCompress !== 'function') {
    yield* pipeProgram('zstd', ['-q', '-c', ...(level > 19 ? ['--ultra'] : []), `-${level}`, '-T0'], 'zstd', source, opts.fd);
  } else {
    const c = z.constants;
    // The content checksum lets every reader (the kernel included) detect corruption, as the zstd program's default does.
    const params = { [c.ZSTD_c_compressionLevel ?? 100]: level, [c.ZSTD_c_checksumFlag ?? 201]: 1 };
    yield* pipeThrough(z.createZstdCompress({ params }), source);
  }
};

/** The header of the block at the source's position, checked, not consumed. */
async function nextBlock(src: ByteSource): Promise<{ last: boolean; len: number }> {
  const at = src.offset;
  await src.need(3);
  const h = blockHeader(src.peek(3));
  if (h.type === 3) throw new FormatError('reserved zstd block type', { offset: at });
  if (h.size > MAX_BLOCK) throw new FormatError(`zstd block size ${h.size} exceeds 128 KiB`, { offset: at });
  return h;
}

/** A block header (3 bytes, little-endian): `len` is the whole block's bytes (an RLE block stores one). */
function blockHeader(bh: Buffer): { last: boolean; type: number; size: number; len: number } {
  const word = bh[0]! | (bh[1]! << 8) | (bh[2]! << 16);
  const type = (word >> 1) & 3;
  const size = word >>> 3;
  return { last: (word & 1) === 1, type, size, len: 3 + (type === 1 ? 1 : size) };
}

/**
 * The length of the zstd frame at `start` in a file, from its block headers
 * read in place: some 1,100 reads of 3 bytes for the 34 MB distribution
 * image, where the stream walk passes every byte through this process before
 * the program may start. Undefined when anything is off (a bad block header,
 * the file too short): the stream walk then meets it and says where.
 */
function frameLengthInFile(path: string, start: number, headerLen: number, hasChecksum: boolean): number | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    const bh = Buffer.alloc(3);
    let pos = start + headerLen;
    for (let last = false; !last; ) {
      if (readSync(fd, bh, 0, 3, pos) !== 3) return undefined;
      const h = blockHeader(bh);
      if (h.type === 3 || h.size > MAX_BLOCK) return undefined;
      last = h.last;
      pos += h.len;
    }
    if (hasChecksum) pos += 4;
    return pos <= size ? pos - start : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

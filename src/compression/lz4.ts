import { FormatError } from '../errors.js';
import { OUTPUT_CHUNK, OutputSink, salvaged } from './sink.js';
import { ByteSource } from './source.js';
import type { Decoder, Encoder, MemberInput } from './types.js';

const LEGACY_MAGIC = 0x184c2102;
/** The legacy frame's fixed block size (lib/decompress_unlz4.c: LZ4_DEFAULT_UNCOMPRESSED_CHUNK_SIZE). */
const BLOCK_MAX = 8 << 20;
const COMPRESS_BOUND = BLOCK_MAX + Math.floor(BLOCK_MAX / 255) + 16;

class Lz4Error extends Error {}

/** Decode one LZ4 block into `dst`; returns the output length. Throws Lz4Error on malformed input. */
export function lz4DecodeBlock(src: Uint8Array, dst: Uint8Array): number {
  const end = src.length;
  const cap = dst.length;
  let ip = 0;
  let op = 0;
  for (;;) {
    if (ip >= end) throw new Lz4Error('block ends inside a sequence');
    const token = src[ip++]!;
    let lit = token >>> 4;
    if (lit === 15) {
      let b: number;
      do {
        if (ip >= end) throw new Lz4Error('block ends inside a literal length');
        b = src[ip++]!;
        lit += b;
      } while (b === 255);
    }
    if (ip + lit > end) throw new Lz4Error('literals run past the block end');
    if (op + lit > cap) throw new Lz4Error('block expands beyond 8 MiB');
    if (lit < 16) {
      for (let i = 0; i < lit; i++) dst[op + i] = src[ip + i]!;
    } else {
      dst.set(src.subarray(ip, ip + lit), op);
    }
    ip += lit;
    op += lit;
    if (ip === end) return op;
    if (ip + 2 > end) throw new Lz4Error('block ends inside a match offset');
    const offset = src[ip]! | (src[ip + 1]! << 8);
    ip += 2;
    if (offset === 0 || offset > op) throw new Lz4Error(`match offset ${offset} points before the block start`);
    let len = token & 15;
    if (len === 15) {
      let b: number;
      do {
        if (ip >= end) throw new Lz4Error('block ends inside a match length');
        b = src[ip++]!;
        len += b;
      } while (b === 255);
    }
    len += 4;
    if (op + len > cap) throw new Lz4Error('block expands beyond 8 MiB');
    let from = op - offset;
    if (offset >= len && len > 32) {
      dst.copyWithin(op, from, from + len);
      op += len;
    } else {
      const stop = op + len;
      while (op < stop) dst[op++] = dst[from++]!;
    }
  }
}

/**
 * One lz4 legacy frame (`lz4 -l`), read the way lib/decompress_unlz4.c reads
 * it: a repeated frame magic is skipped (concatenated legacy frames are one
 * member), and the member ends at the end of the input, with fewer than 4
 * bytes left, or at a zero block length (zero padding before the next
 * member). The zero word and anything after it are handed back. The format
 * has no checksums: only structural errors can be caught. (Piping blocks to
 * the lz4 program measured only about 1.4x faster, so it is not used.)
 */
export const decodeLz4: Decoder = (input, opts) => {
  const sink = new OutputSink('lz4', opts.maxOutput);
  return salvaged(sink, lz4Member(input, sink));
};

async function* lz4Member(input: MemberInput, sink: OutputSink): AsyncGenerator<Buffer, void, undefined> {
  const src = new ByteSource(input, 'lz4');
  await src.need(4);
  if (src.take(4).readUInt32LE(0) !== LEGACY_MAGIC) throw new FormatError('not an lz4 legacy frame (bad magic)', { offset: 0 });
  const work = Buffer.allocUnsafe(BLOCK_MAX);
  for (let len; (len = await nextBlock(src)) !== undefined; ) {
    const at = src.offset;
    src.skip(4);
    let n: number;
    try {
      n = lz4DecodeBlock(src.take(len), work);
    } catch (e) {
      if (e instanceof Lz4Error) throw new FormatError(`corrupt lz4 block: ${e.message}`, { offset: at });
      throw e;
    }
    for (let o = 0; o < n; o += OUTPUT_CHUNK) {
      sink.push(Buffer.from(work.subarray(o, Math.min(n, o + OUTPUT_CHUNK))));
      if (sink.ready) yield sink.take();
    }
  }
  const rest = sink.take();
  if (rest.length) yield rest;
  src.finish();
}

/**
 * The next block's compressed length, with the block (length word included)
 * buffered at the source position; undefined at the member end (unlz4's rules).
 */
async function nextBlock(src: ByteSource): Promise<number | undefined> {
  for (;;) {
    if (!(await src.fill(4))) return undefined;
    const at = src.offset;
    const len = src.peek(4).readUInt32LE(0);
    if (len === LEGACY_MAGIC) {
      src.skip(4);
      continue;
    }
    if (len === 0) return undefined;
    if (len > COMPRESS_BOUND) {
      throw new FormatError(`bad lz4 block length ${len} (a member following lz4 data must be preceded by zero padding)`, { offset: at });
    }
    if (!(await src.fill(4 + len))) {
      throw new FormatError(`truncated lz4 data: block of ${len} bytes runs past the end of the input (or a member follows without zero padding)`, { offset: at });
    }
    return len;
  }
}

const HASH_LOG = 16;
const MIN_MATCH = 4;
/** The format's end rules: the last match starts at least 12 bytes and ends at least 5 bytes before the block end. */
const MF_LIMIT = 12;
const LAST_LITERALS = 5;

function writeLength(dst: Uint8Array, op: number, n: number): number {
  while (n >= 255) {
    dst[op++] = 255;
    n -= 255;
  }
  dst[op++] = n;
  return op;
}

/**
 * Compress one block (greedy LZ4 with a 64K-entry hash table of 4-byte
 * sequences, the reference fast compressor's scheme). Returns the length.
 */
export function lz4CompressBlock(src: Uint8Array, dst: Uint8Array, table: Int32Array): number {
  const n = src.length;
  table.fill(-1);
  let op = 0;
  let anchor = 0;
  const emitLiterals = (end: number) => {
    const lit = end - anchor;
    const token = op++;
    dst[token] = (lit >= 15 ? 15 : lit) << 4;
    if (lit >= 15) op = writeLength(dst, op, lit - 15);
    dst.set(src.subarray(anchor, end), op);
    op += lit;
    return token;
  };
  if (n >= MF_LIMIT + 1) {
    const mfLimit = n - MF_LIMIT;
    const matchLimit = n - LAST_LITERALS;
    const read32 = (i: number) => src[i]! | (src[i + 1]! << 8) | (src[i + 2]! << 16) | (src[i + 3]! << 24);
    let ip = 0;
    while (ip < mfLimit) {
      const seq = read32(ip);
      const h = Math.imul(seq, 2654435761) >>> (32 - HASH_LOG);
      let ref = table[h]!;
      table[h] = ip;
      if (ref < 0 || ip - ref > 65535 || read32(ref) !== seq) {
        ip += 1 + ((ip - anchor) >>> 6);
        continue;
      }
      while (ip > anchor && ref > 0 && src[ip - 1] === src[ref - 1]) {
        ip--;
        ref--;
      }
      let len = MIN_MATCH;
      while (ip + len < matchLimit && src[ip + len] === src[ref + len]) len++;
      const token = emitLiterals(ip);
      const offset = ip - ref;
      dst[op++] = offset & 0xff;
      dst[op++] = offset >>> 8;
      const ml = len - MIN_MATCH;
      dst[token]! |= ml >= 15 ? 15 : ml;
      if (ml >= 15) op = writeLength(dst, op, ml - 15);
      ip += len;
      anchor = ip;
    }
  }
  emitLiterals(n);
  return op;
}

/**
 * Built-in legacy-frame encoder (what `lz4 -l` writes and unlz4 reads): the
 * magic, then 8 MiB input blocks each compressed on its own. `level` is
 * ignored: this is the fast compressor (lz4 -1 class ratio).
 */
export const encodeLz4: Encoder = async function* (source) {
  yield Buffer.from([0x02, 0x21, 0x4c, 0x18]);
  const table = new Int32Array(1 << HASH_LOG);
  const block = Buffer.allocUnsafe(BLOCK_MAX);
  let fill = 0;
  const flush = () => {
    const out = Buffer.allocUnsafe(4 + COMPRESS_BOUND);
    const len = lz4CompressBlock(block.subarray(0, fill), out.subarray(4), table);
    out.writeUInt32LE(len, 0);
    fill = 0;
    return out.subarray(0, 4 + len);
  };
  for await (const chunk of source) {
    for (let o = 0; o < chunk.length; ) {
      const n = Math.min(chunk.length - o, BLOCK_MAX - fill);
      block.set(chunk.subarray(o, o + n), fill);
      fill += n;
      o += n;
      if (fill === BLOCK_MAX) yield flush();
    }
  }
  if (fill) yield flush();
};

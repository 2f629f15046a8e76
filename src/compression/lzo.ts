import { FormatError } from '../errors.js';
import { adler32, crc32 } from './checksum.js';
import { Passer, pipeProgram, programFeed, type Feed } from './pipe.js';
import { OutputSink, salvaged } from './sink.js';
import { ByteSource } from './source.js';
import type { Decoder, DecodeOptions, Encoder, MemberInput } from './types.js';

const MAGIC = Buffer.from([0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a]);
/** The kernel refuses larger blocks ("dest len longer than block size"); lzop writes 256 KiB. */
const BLOCK_MAX = 256 * 1024;

const F_ADLER32_D = 0x1;
const F_ADLER32_C = 0x2;
const F_H_EXTRA_FIELD = 0x40;
const F_CRC32_D = 0x100;
const F_CRC32_C = 0x200;
const F_H_FILTER = 0x800;
const F_H_CRC32 = 0x1000;

class LzoError extends Error {}

// Decoder states, named after the labels of the reference lzo1x_d.ch.
const TOP = 0;
/** Literals already counted in t, then the first-literal-run special match. */
const FIRST_LITERALS = 1;
const MATCH = 2;
const MATCH_NEXT = 3;

/**
 * Where a long length ends: an instruction whose length field is 0 is
 * followed by zero bytes, each adding 255, and one non-zero byte, added too.
 * Returns that byte's index (the caller keeps ip a local, see below).
 */
function lengthEnd(src: Uint8Array, ip: number, end: number): number {
  while (ip < end && src[ip] === 0) ip++;
  if (ip >= end) throw new LzoError('input overrun');
  return ip;
}

/**
 * LZO1X decompression (what lzop's methods 1-3 all produce) of one block into
 * dst, which must be exactly the block's uncompressed size. Every read and
 * write is bounds-checked: corrupt input throws LzoError, never reads outside.
 * (ip/op stay plain locals, not captured by helper closures: that halves the
 * time, so the copies are written out in place.)
 */
export function lzo1xDecode(src: Uint8Array, dst: Uint8Array): void {
  const end = src.length;
  const cap = dst.length;
  let ip = 0;
  let op = 0;
  let t = 0;
  let state = TOP;
  let from = 0;
  let len = 0;
  if (end < 1) throw new LzoError('input overrun');
  if (src[0]! > 17) {
    t = src[ip++]! - 17;
    state = t < 4 ? MATCH_NEXT : FIRST_LITERALS;
  }
  for (;;) {
    if (state === TOP || state === FIRST_LITERALS) {
      if (state === TOP) {
        if (ip >= end) throw new LzoError('input overrun');
        t = src[ip++]!;
        if (t >= 16) {
          state = MATCH;
          continue;
        }
        if (t === 0) {
          const at = lengthEnd(src, ip, end);
          t = 15 + 255 * (at - ip) + src[at]!;
          ip = at + 1;
        }
        t += 3;
      }
      if (ip + t > end) throw new LzoError('input overrun');
      if (op + t > cap) throw new LzoError('output overrun');
      for (let i = 0; i < t; i++) dst[op + i] = src[ip + i]!;
      ip += t;
      op += t;
      if (ip >= end) throw new LzoError('input overrun');
      t = src[ip++]!;
      if (t >= 16) {
        state = MATCH;
        continue;
      }
      if (ip >= end) throw new LzoError('input overrun');
      from = op - 0x801 - (t >> 2) - (src[ip++]! << 2);
      len = 3;
    } else if (state === MATCH) {
      if (t >= 64) {
        if (ip >= end) throw new LzoError('input overrun');
        from = op - 1 - ((t >> 2) & 7) - (src[ip++]! << 3);
        len = (t >> 5) + 1;
      } else if (t >= 32) {
        t &= 31;
        if (t === 0) {
          const at = lengthEnd(src, ip, end);
          t = 31 + 255 * (at - ip) + src[at]!;
          ip = at + 1;
        }
        if (ip + 2 > end) throw new LzoError('input overrun');
        from = op - 1 - ((src[ip]! >> 2) + (src[ip + 1]! << 6));
        ip += 2;
        len = t + 2;
      } else if (t >= 16) {
        from = op - ((t & 8) << 11);
        t &= 7;
        if (t === 0) {
          const at = lengthEnd(src, ip, end);
          t = 7 + 255 * (at - ip) + src[at]!;
          ip = at + 1;
        }
        if (ip + 2 > end) throw new LzoError('input overrun');
        from -= (src[ip]! >> 2) + (src[ip + 1]! << 6);
        ip += 2;
        if (from === op) {
          // End-of-stream marker.
          if (ip !== end) throw new LzoError('data after the end-of-stream marker');
          if (op !== cap) throw new LzoError(`block decodes to ${op} bytes, header says ${cap}`);
          return;
        }
        from -= 0x4000;
        len = t + 2;
      } else {
        if (ip >= end) throw new LzoError('input overrun');
        from = op - 1 - (t >> 2) - (src[ip++]! << 2);
        len = 2;
      }
    } else {
      // MATCH_NEXT: 1-3 literals, then the next instruction is a match.
      if (ip + t + 1 > end) throw new LzoError('input overrun');
      if (op + t > cap) throw new LzoError('output overrun');
      for (let i = 0; i < t; i++) dst[op++] = src[ip++]!;
      t = src[ip++]!;
      state = MATCH;
      continue;
    }
    // Copy the match (forward, byte by byte: overlapping copies repeat the pattern).
    if (from < 0) throw new LzoError('match before the block start');
    if (op + len > cap) throw new LzoError('output overrun');
    for (let i = 0; i < len; i++) dst[op + i] = dst[from + i]!;
    op += len;
    // The low 2 bits of the instruction's last offset byte: 0 = next instruction, else that many literals.
    t = src[ip - 2]! & 3;
    state = t === 0 ? TOP : MATCH_NEXT;
  }
}

/** Parse and verify an lzop header; returns its flags and its raw bytes. */
async function readHeader(src: ByteSource): Promise<{ flags: number; raw: Buffer }> {
  const raw: Buffer[] = [];
  const checked: Buffer[] = [];
  const read = async (n: number, covered = true) => {
    await src.need(n);
    const b = Buffer.from(src.take(n));
    raw.push(b);
    if (covered) checked.push(b);
    return b;
  };
  if (!(await read(9, false)).equals(MAGIC)) throw new FormatError('not an lzop file (bad magic)', { offset: 0 });
  const version = (await read(2)).readUInt16BE(0);
  await read(2); // library version
  if (version >= 0x0940) await read(2); // version needed to extract
  const method = (await read(1))[0]!;
  if (method < 1 || method > 3) throw new FormatError(`unsupported lzop method ${method} (only LZO1X methods 1-3)`, { offset: src.offset - 1 });
  if (version >= 0x0940) await read(1); // level
  const flags = (await read(4)).readUInt32BE(0);
  if (flags & F_H_FILTER) throw new FormatError('lzop filters are not supported (the kernel does not apply them either)', { offset: src.offset - 4 });
  await read(8); // mode, mtime low
  if (version >= 0x0940) await read(4); // mtime high
  await read((await read(1))[0]!); // name
  const checksumAt = src.offset;
  const stored = (await read(4, false)).readUInt32BE(0);
  const header = Buffer.concat(checked);
  if (stored !== (flags & F_H_CRC32 ? crc32(header) : adler32(header))) throw new FormatError('lzop header checksum mismatch', { offset: checksumAt });
  if (flags & F_H_EXTRA_FIELD) await read((await read(4, false)).readUInt32BE(0) + 4, false);
  return { flags, raw: Buffer.concat(raw) };
}

/**
 * One lzop file. The kernel's unlzo skips the header checksum and exactly one
 * 4-byte checksum per block; here the header and every block checksum the
 * flags announce (Adler-32 or CRC-32, of the uncompressed and/or compressed
 * data) are verified. The member ends after the zero block length. When the
 * lzop program is on PATH (and `native` is not false) it decodes (about 4x
 * faster, same checks); the member end is still found here from the block
 * lengths.
 */
export const decodeLzo: Decoder = (input, opts) => {
  const sink = new OutputSink('lzo', opts.maxOutput);
  return salvaged(sink, lzoMember(input, opts, sink));
};

async function* lzoMember(input: MemberInput, opts: DecodeOptions, sink: OutputSink): AsyncGenerator<Buffer, void, undefined> {
  const src = new ByteSource(input, 'lzo');
  const { flags, raw } = await readHeader(src);
  const checks = (compressed: boolean) => {
    const list: Array<'adler' | 'crc'> = [];
    if (flags & (compressed ? F_ADLER32_C : F_ADLER32_D)) list.push('adler');
    if (flags & (compressed ? F_CRC32_C : F_CRC32_D)) list.push('crc');
    return list;
  };
  const dChecks = checks(false);
  const cChecks = checks(true);
  const feed = opts.native === false ? undefined : programFeed('lzop', ['-d', '-c', '-q'], sink, { origin: src.origin });
  if (feed) {
    const pass = new Passer(src, feed, sink);
    yield* pass.run(walkLzop(src, pass, feed, raw, dChecks.length, cChecks.length));
    src.finish();
    return;
  }
  const verify = (kind: 'adler' | 'crc', data: Uint8Array, want: number, what: string, at: number) => {
    const got = kind === 'adler' ? adler32(data) : crc32(data);
    if (got !== want) throw new FormatError(`lzop block ${what} ${kind === 'adler' ? 'Adler-32' : 'CRC-32'} mismatch (corrupt data)`, { offset: at });
  };
  for (;;) {
    const at = src.offset;
    await src.need(4);
    const dstLen = src.take(4).readUInt32BE(0);
    if (dstLen === 0) break;
    if (dstLen > BLOCK_MAX) throw new FormatError(`lzop block of ${dstLen} bytes exceeds the 256 KiB the kernel accepts`, { offset: at });
    await src.need(4);
    const srcLen = src.take(4).readUInt32BE(0);
    if (srcLen === 0 || srcLen > dstLen) throw new FormatError(`bad lzop compressed block length ${srcLen}`, { offset: at + 4 });
    const compressed = srcLen < dstLen;
    const wantD: number[] = [];
    const wantC: number[] = [];
    for (const list of [dChecks, compressed ? cChecks : []]) {
      for (let i = 0; i < list.length; i++) {
        await src.need(4);
        (list === dChecks ? wantD : wantC).push(src.take(4).readUInt32BE(0));
      }
    }
    const dataAt = src.offset;
    await src.need(srcLen);
    const data = src.take(srcLen);
    cChecks.forEach((k, i) => compressed && verify(k, data, wantC[i]!, 'compressed-data', dataAt));
    let out: Buffer;
    if (compressed) {
      out = Buffer.allocUnsafe(dstLen);
      try {
        lzo1xDecode(data, out);
      } catch (e) {
        if (e instanceof LzoError) throw new FormatError(`corrupt lzo block: ${e.message}`, { offset: dataAt });
        throw e;
      }
    } else {
      out = Buffer.from(data);
    }
    dChecks.forEach((k, i) => verify(k, out, wantD[i]!, 'data', dataAt));
    sink.push(out);
    if (sink.ready) yield sink.take();
  }
  const rest = sink.take();
  if (rest.length) yield rest;
  src.finish();
}

/** Pass the blocks of one lzop file to the lzop program, finding its end from the block lengths alone (no decoding). */
async function* walkLzop(src: ByteSource, pass: Passer, feed: Feed, header: Buffer, dChecks: number, cChecks: number): AsyncGenerator<Buffer, void, undefined> {
  await feed.write([header]);
  for (;;) {
    const at = src.offset;
    const dstLen = (await pass.take(4)).readUInt32BE(0);
    if (dstLen === 0) break;
    if (dstLen > BLOCK_MAX) throw new FormatError(`lzop block of ${dstLen} bytes exceeds the 256 KiB the kernel accepts`, { offset: at });
    const srcLen = (await pass.take(4)).readUInt32BE(0);
    if (srcLen === 0 || srcLen > dstLen) throw new FormatError(`bad lzop compressed block length ${srcLen}`, { offset: at + 4 });
    await pass.take(4 * (dChecks + (srcLen < dstLen ? cChecks : 0)) + srcLen);
    yield* pass.flushIfFull();
  }
  yield* pass.end();
}

export const encodeLzo: Encoder = async function* (source, opts) {
  yield* pipeProgram('lzop', ['-c', '-q', `-${opts.level ?? 3}`], 'lzop', source, opts.fd);
};

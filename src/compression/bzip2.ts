import { FormatError } from '../errors.js';
import { pipeProgram } from './pipe.js';
import { OutputSink, salvaged } from './sink.js';
import { ByteSource } from './source.js';
import type { Decoder, Encoder, MemberInput } from './types.js';

const BLOCK_MAGIC_HI = 0x314159;
const BLOCK_MAGIC_LO = 0x265359;
const EOS_MAGIC_HI = 0x177245;
const EOS_MAGIC_LO = 0x385090;
const MAX_GROUPS = 6;
const MAX_ALPHA = 258;
const MAX_CODE_LEN = 20;
const GROUP_SIZE = 50;
/** Compressed input gathered before decoding a block: a 900k block rarely compresses to more. */
const FIRST_FILL = 1 << 20;
/** A block needing more than this much input is corrupt (900k symbols of at most 20 bits, plus tables). */
const MAX_BLOCK_INPUT = 3 << 20;
/** Output gathered per piece while undoing the final run-length stage. */
const PIECE = 1 << 20;

/** bzip2's CRC: CRC-32 with the polynomial 0x04c11db7, most significant bit first. */
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    t[i] = c >>> 0;
  }
  return t;
})();

class NeedMoreInput extends Error {}
class Bzip2DataError extends Error {}

/** MSB-first bit reader over one buffer; running past `end` means more input is needed (or the data is truncated). */
class Bits {
  constructor(
    readonly buf: Uint8Array,
    public pos: number,
    private readonly end: number,
    private readonly final: boolean,
  ) {}

  private byte(i: number): number {
    return i < this.end ? this.buf[i]! : 0;
  }

  /** The next n (1..24) bits without consuming them. */
  peek(n: number): number {
    const i = this.pos >>> 3;
    const b = this.buf;
    const v =
      i + 4 <= this.end
        ? ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0
        : ((this.byte(i) << 24) | (this.byte(i + 1) << 16) | (this.byte(i + 2) << 8) | this.byte(i + 3)) >>> 0;
    return ((v << (this.pos & 7)) >>> 0) >>> (32 - n);
  }

  skip(n: number): void {
    this.pos += n;
    if (this.pos > this.end * 8) throw this.final ? new TruncatedBits() : new NeedMoreInput();
  }

  get(n: number): number {
    const v = this.peek(n);
    this.skip(n);
    return v;
  }
}

class TruncatedBits extends Error {}

interface Group {
  minLen: number;
  maxLen: number;
  /** limit[len]: the largest left-justified (to 20 bits) code of length len, plus one. */
  limit: Int32Array;
  base: Int32Array;
  perm: Uint16Array;
}

function buildGroup(lengths: Uint8Array, alpha: number): Group {
  let minLen = MAX_CODE_LEN;
  let maxLen = 0;
  for (let i = 0; i < alpha; i++) {
    const l = lengths[i]!;
    if (l > maxLen) maxLen = l;
    if (l < minLen) minLen = l;
  }
  const perm = new Uint16Array(alpha);
  let pp = 0;
  for (let len = minLen; len <= maxLen; len++) for (let s = 0; s < alpha; s++) if (lengths[s] === len) perm[pp++] = s;
  const count = new Int32Array(MAX_CODE_LEN + 2);
  for (let i = 0; i < alpha; i++) count[lengths[i]!]!++;
  const limit = new Int32Array(MAX_CODE_LEN + 2);
  const base = new Int32Array(MAX_CODE_LEN + 2);
  let code = 0;
  let index = 0;
  for (let len = minLen; len <= maxLen; len++) {
    // Codes of this length are code .. code+count-1; perm index = index + (code - first).
    base[len] = index - code;
    code += count[len]!;
    index += count[len]!;
    if (code > 1 << len) throw new Bzip2DataError('oversubscribed Huffman code');
    limit[len] = code << (MAX_CODE_LEN - len);
    code <<= 1;
  }
  return { minLen, maxLen, limit, base, perm };
}

interface BlockResult {
  /** Bit position after the block (or after the stream CRC). */
  pos: number;
  /** Output pieces, or undefined at the end of the stream. */
  out?: Buffer[];
  crc: number;
}

/** Decode one block (or the end-of-stream record) starting at bits.pos. */
function decodeBlock(bits: Bits, maxBlock: number, tt: Uint32Array): BlockResult {
  const hi = bits.get(24);
  const lo = bits.get(24);
  if (hi === EOS_MAGIC_HI && lo === EOS_MAGIC_LO) {
    const crc = ((bits.get(16) << 16) | bits.get(16)) >>> 0;
    return { pos: bits.pos, crc };
  }
  if (hi !== BLOCK_MAGIC_HI || lo !== BLOCK_MAGIC_LO) throw new Bzip2DataError('bad block magic');
  const blockCrc = ((bits.get(16) << 16) | bits.get(16)) >>> 0;
  if (bits.get(1)) throw new Bzip2DataError('randomised blocks (bzip2 < 0.9.5) are not supported, nor by the kernel');
  const origPtr = bits.get(24);

  const used = bits.get(16);
  const symToByte = new Uint8Array(256);
  let symCount = 0;
  for (let i = 0; i < 16; i++) {
    if (!(used & (0x8000 >> i))) continue;
    const bitsUsed = bits.get(16);
    for (let j = 0; j < 16; j++) if (bitsUsed & (0x8000 >> j)) symToByte[symCount++] = i * 16 + j;
  }
  if (symCount === 0) throw new Bzip2DataError('block uses no symbols');
  const alpha = symCount + 2;
  const nGroups = bits.get(3);
  if (nGroups < 2 || nGroups > MAX_GROUPS) throw new Bzip2DataError(`bad Huffman group count ${nGroups}`);
  const nSelectors = bits.get(15);
  if (nSelectors < 1) throw new Bzip2DataError('no selectors');
  const selectors = new Uint8Array(nSelectors);
  const mtfGroups = [0, 1, 2, 3, 4, 5];
  for (let i = 0; i < nSelectors; i++) {
    let j = 0;
    while (bits.get(1)) if (++j >= nGroups) throw new Bzip2DataError('bad selector');
    const v = mtfGroups[j]!;
    for (; j > 0; j--) mtfGroups[j] = mtfGroups[j - 1]!;
    mtfGroups[0] = v;
    selectors[i] = v;
  }
  const groups: Group[] = [];
  const lengths = new Uint8Array(MAX_ALPHA);
  for (let g = 0; g < nGroups; g++) {
    let len = bits.get(5);
    for (let s = 0; s < alpha; s++) {
      for (;;) {
        if (len < 1 || len > MAX_CODE_LEN) throw new Bzip2DataError('bad Huffman code length');
        if (!bits.get(1)) break;
        len += bits.get(1) ? -1 : 1;
      }
      lengths[s] = len;
    }
    groups.push(buildGroup(lengths, alpha));
  }

  // Huffman + MTF + RUNA/RUNB decoding into tt (low byte = symbol).
  const counts = new Int32Array(256);
  const mtf = new Uint8Array(256);
  for (let i = 0; i < 256; i++) mtf[i] = i;
  const eob = alpha - 1;
  let n = 0;
  let runPos = 0;
  let run = 0;
  let selector = 0;
  let left = 0;
  let group = groups[0]!;
  for (;;) {
    if (left === 0) {
      if (selector >= nSelectors) throw new Bzip2DataError('ran out of selectors');
      group = groups[selectors[selector++]!]!;
      left = GROUP_SIZE;
    }
    left--;
    const code = bits.peek(MAX_CODE_LEN);
    let len = group.minLen;
    while (len <= group.maxLen && code >= group.limit[len]!) len++;
    if (len > group.maxLen) throw new Bzip2DataError('bad Huffman code');
    bits.skip(len);
    const idx = group.base[len]! + (code >>> (MAX_CODE_LEN - len));
    if (idx < 0 || idx >= alpha) throw new Bzip2DataError('bad Huffman code');
    const sym = group.perm[idx]!;
    if (sym <= 1) {
      if (runPos === 0) {
        runPos = 1;
        run = 0;
      }
      run += runPos << sym;
      runPos <<= 1;
      if (run > maxBlock) throw new Bzip2DataError('run exceeds the block size');
      continue;
    }
    if (runPos) {
      runPos = 0;
      if (n + run > maxBlock) throw new Bzip2DataError('block exceeds its declared size');
      const b = symToByte[mtf[0]!]!;
      counts[b]! += run;
      tt.fill(b, n, n + run);
      n += run;
    }
    if (sym === eob) break;
    if (n >= maxBlock) throw new Bzip2DataError('block exceeds its declared size');
    const k = sym - 1;
    const v = mtf[k]!;
    // Most moves are short: a loop beats copyWithin's call overhead.
    for (let j = k; j > 0; j--) mtf[j] = mtf[j - 1]!;
    mtf[0] = v;
    const b = symToByte[v]!;
    counts[b]!++;
    tt[n++] = b;
  }
  if (origPtr >= n) throw new Bzip2DataError('bad BWT origin pointer');

  // Inverse BWT: link each position to its successor (kept in the upper 24 bits).
  let sum = 0;
  for (let i = 0; i < 256; i++) {
    const c = counts[i]!;
    counts[i] = sum;
    sum += c;
  }
  for (let i = 0; i < n; i++) {
    const b = tt[i]! & 0xff;
    tt[counts[b]!++]! |= i << 8;
  }

  // Walk the chain, undoing the initial run-length stage (4 equal bytes, then a count) and
  // computing the CRC. Written out in place: a helper closure capturing op/crc halves the speed.
  const out: Buffer[] = [];
  let piece = Buffer.allocUnsafe(PIECE);
  let op = 0;
  let crc = 0xffffffff;
  let p = tt[origPtr]! >>> 8;
  let last = -1;
  let same = 0;
  for (let i = 0; i < n; i++) {
    const e = tt[p]!;
    const b = e & 0xff;
    p = e >>> 8;
    let times = 1;
    let value = b;
    if (same === 4) {
      times = b;
      value = last;
      same = 0;
      last = -1;
    } else if (b === last) {
      same++;
    } else {
      same = 1;
      last = b;
    }
    for (let r = 0; r < times; r++) {
      if (op === PIECE) {
        out.push(piece);
        piece = Buffer.allocUnsafe(PIECE);
        op = 0;
      }
      piece[op++] = value;
      crc = (crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ value) & 0xff]!;
    }
  }
  out.push(piece.subarray(0, op));
  crc = ~crc >>> 0;
  if (crc !== blockCrc) throw new Bzip2DataError('block CRC mismatch');
  return { pos: bits.pos, out, crc };
}

/**
 * One bzip2 stream ("BZh1".."BZh9", blocks, end-of-stream record with the
 * combined CRC), as the kernel's bunzip2 reads it; concatenated streams are
 * separate members. Block and stream CRCs are verified. A block is decoded
 * once its compressed bytes are buffered (bzip2 blocks have no length field,
 * so up to a few MB of input are held per block); output streams per block.
 */
export const decodeBzip2: Decoder = (input, opts) => {
  const sink = new OutputSink('bzip2', opts.maxOutput);
  return salvaged(sink, bzip2Member(input, sink));
};

async function* bzip2Member(input: MemberInput, sink: OutputSink): AsyncGenerator<Buffer, void, undefined> {
  const src = new ByteSource(input, 'bzip2');
  await src.need(4);
  const h = src.take(4);
  if (h[0] !== 0x42 || h[1] !== 0x5a || h[2] !== 0x68) throw new FormatError('not a bzip2 stream (bad magic)', { offset: 0 });
  const level = h[3]! - 0x30;
  if (level < 1 || level > 9) throw new FormatError(`bad bzip2 block size '${String.fromCharCode(h[3]!)}'`, { offset: 3 });
  const maxBlock = level * 100000;
  const tt = new Uint32Array(maxBlock);
  let bitOff = 0;
  let combined = 0;
  for (;;) {
    let want = FIRST_FILL;
    let result: BlockResult;
    for (;;) {
      const final = !(await src.fill(want));
      const v = src.view();
      const bits = new Bits(v.buf, v.pos * 8 + bitOff, v.buf.length, final);
      const at = src.offset;
      try {
        result = decodeBlock(bits, maxBlock, tt);
        result.pos -= v.pos * 8;
        break;
      } catch (e) {
        if (e instanceof NeedMoreInput && want < MAX_BLOCK_INPUT) {
          want *= 2;
          continue;
        }
        if (e instanceof NeedMoreInput) throw new FormatError('corrupt bzip2 data: block is larger than any valid block', { offset: at });
        if (e instanceof TruncatedBits) throw src.truncated();
        if (e instanceof Bzip2DataError) throw new FormatError(`corrupt bzip2 data: ${e.message}`, { offset: at });
        throw e;
      }
    }
    src.skip(result.pos >>> 3);
    bitOff = result.pos & 7;
    if (!result.out) {
      if (result.crc !== combined) throw new FormatError('bzip2 stream CRC mismatch', { offset: src.offset });
      break;
    }
    combined = (((combined << 1) | (combined >>> 31)) ^ result.crc) >>> 0;
    for (const piece of result.out) sink.push(piece);
    yield sink.take();
  }
  // The stream is padded to a whole byte.
  if (bitOff) src.skip(1);
  src.finish();
}

export const encodeBzip2: Encoder = async function* (source, opts) {
  yield* pipeProgram('bzip2', ['-c', '-q', `-${opts.level ?? 9}`], 'bzip2', source, opts.fd);
};

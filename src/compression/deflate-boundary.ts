/**
 * Deflate block starts found without decoding what comes before them (the
 * rapidgzip idea), and the few synthetic bits that let zlib start and stop a
 * raw inflate at any bit position.
 */

/** Order in which the code-length code lengths are stored (RFC 1951 3.2.7). */
const CL_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/** A dynamic block header is at most 17 + 19*3 + 316*7 bits: candidates closer than this to the buffer end are left undecided. */
export const MAX_HEADER_BYTES = 300;

let startOk: Uint8Array | undefined;
/**
 * The first 13 header bits (BFINAL, BTYPE, HLIT, HDIST) that can start a
 * non-final dynamic block zlib accepts: BFINAL 0, BTYPE 2, HLIT+257 <= 286,
 * HDIST+1 <= 30. About one position in nine passes, so the scan tests one
 * table entry per bit and decodes the rest of the header rarely. Built on
 * first use, as kraft4Table(): every command loads this module, few read gzip.
 */
function startOkTable(): Uint8Array {
  if (startOk) return startOk;
  startOk = new Uint8Array(1 << 13);
  for (let v = 0; v < startOk.length; v++) startOk[v] = (v & 7) === 4 && ((v >> 3) & 31) <= 29 && ((v >> 8) & 31) <= 29 ? 1 : 0;
  return startOk;
}

/**
 * Bits pos..pos+n-1 (n <= 24), least significant first as deflate stores
 * them. Callers keep pos + n within the buffer; the bytes read past it
 * (undefined, 0 in bit operations) only feed bits that are masked off.
 */
function bitsAt(buf: Uint8Array, pos: number, n: number): number {
  const i = pos >>> 3;
  const w = buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24);
  return (w >>> (pos & 7)) & ((1 << n) - 1);
}

/**
 * Kraft sum of a code: 0 complete, > 0 incomplete (the unused share of
 * 2^15), -1 over-subscribed. `count[len]` codes of each length 1..15.
 */
function kraftLeft(count: Int32Array): number {
  let left = 1;
  for (let len = 1; len <= 15; len++) {
    left = (left << 1) - count[len]!;
    if (left < 0) return -1;
  }
  return left;
}

const clLens = new Uint8Array(19);
const clCount = new Int32Array(16);
/** The code-length code, indexed by the next 7 input bits: symbol | length << 8, or -1. */
const clTable = new Int32Array(128);
const lens = new Uint8Array(286 + 30);
const codeCount = new Int32Array(16);

/** Whether the lengths lens[from..from+n) make a code zlib's inflate_table accepts for literals/lengths or distances. */
function codeAccepted(from: number, n: number): boolean {
  codeCount.fill(0);
  let max = 0;
  for (let i = from; i < from + n; i++) {
    const l = lens[i]!;
    codeCount[l]!++;
    if (l > max) max = l;
  }
  if (max === 0) return true; // no symbols: zlib accepts it (a distance code for a block of literals only)
  const left = kraftLeft(codeCount);
  // zlib allows one incomplete case: a single code of length 1.
  return left === 0 || (left > 0 && max === 1);
}

let kraft4: Uint16Array | undefined;
/** Kraft sums (in 1/128) of four 3-bit code lengths, indexed by their 12 bits. */
function kraft4Table(): Uint16Array {
  if (kraft4) return kraft4;
  kraft4 = new Uint16Array(1 << 12);
  for (let v = 0; v < kraft4.length; v++) {
    for (let j = 0; j < 4; j++) {
      const l = (v >> (3 * j)) & 7;
      if (l) kraft4[v]! += 128 >> l;
    }
  }
  return kraft4;
}

/**
 * Whether the code-length code of a header at `pos` is complete (zlib:
 * "invalid code lengths set"). Most candidates fail here, so it is kept
 * small: four lengths per table lookup, leaving early once over-subscribed.
 */
function precodeComplete(buf: Uint8Array, pos: number): boolean {
  const ncode = bitsAt(buf, pos + 13, 4) + 4;
  const q = pos + 17;
  const table = kraft4Table();
  let kraft = 0;
  for (let i = 0; i < ncode; i += 4) {
    const n = ncode - i < 4 ? ncode - i : 4;
    kraft += table[bitsAt(buf, q + 3 * i, 3 * n)]!;
    if (kraft > 128) return false;
  }
  return kraft === 128;
}

/**
 * Whether a non-final dynamic block header that zlib would accept starts at
 * bit `pos` of `buf` (the checks of zlib's inflate.c and inftrees.c, done
 * here without decoding anything before it). False when the header would
 * run past the buffer end.
 */
export function isBlockStart(buf: Uint8Array, pos: number): boolean {
  const end = buf.length * 8;
  if (pos + 17 > end || !startOkTable()[bitsAt(buf, pos, 13)]) return false;
  const nlen = bitsAt(buf, pos + 3, 5) + 257;
  const ndist = bitsAt(buf, pos + 8, 5) + 1;
  const ncode = bitsAt(buf, pos + 13, 4) + 4;
  let q = pos + 17;
  if (q + ncode * 3 > end || !precodeComplete(buf, pos)) return false;
  clLens.fill(0);
  for (let i = 0; i < ncode; i++, q += 3) clLens[CL_ORDER[i]!] = bitsAt(buf, q, 3);
  clCount.fill(0);
  for (let s = 0; s < 19; s++) clCount[clLens[s]!]!++;
  clCount[0] = 0;
  clTable.fill(-1);
  const next = new Int32Array(8);
  for (let l = 1, code = 0; l < 8; l++) {
    code = (code + clCount[l - 1]!) << 1;
    next[l] = code;
  }
  for (let s = 0; s < 19; s++) {
    const l = clLens[s]!;
    if (!l) continue;
    // Huffman codes are stored most significant bit first: index the table by the reversed code.
    let c = next[l]!++;
    let rev = 0;
    for (let i = 0; i < l; i++, c >>= 1) rev = (rev << 1) | (c & 1);
    for (let f = rev; f < 128; f += 1 << l) clTable[f] = s | (l << 8);
  }
  const total = nlen + ndist;
  let have = 0;
  while (have < total) {
    if (q + 14 > end) return false;
    const e = clTable[bitsAt(buf, q, 7)]!;
    q += e >> 8;
    const sym = e & 255;
    if (sym < 16) {
      lens[have++] = sym;
      continue;
    }
    let value = 0;
    let repeat: number;
    if (sym === 16) {
      if (have === 0) return false; // zlib: "invalid bit length repeat"
      value = lens[have - 1]!;
      repeat = 3 + bitsAt(buf, q, 2);
      q += 2;
    } else if (sym === 17) {
      repeat = 3 + bitsAt(buf, q, 3);
      q += 3;
    } else {
      repeat = 11 + bitsAt(buf, q, 7);
      q += 7;
    }
    if (have + repeat > total) return false;
    lens.fill(value, have, have + repeat);
    have += repeat;
  }
  if (q > end) return false;
  if (lens[256] === 0) return false; // zlib: "invalid code -- missing end-of-block"
  return codeAccepted(0, nlen) && codeAccepted(nlen, ndist);
}

/**
 * The first bit position in [from, to) where isBlockStart holds, or -1.
 * Positions whose header could run past the buffer end are not tried.
 */
export function findBlockStart(buf: Uint8Array, from: number, to: number): number {
  const last = Math.min(to, (buf.length - MAX_HEADER_BYTES) * 8);
  let pos = from;
  const ok = startOkTable();
  // A 32-bit window per byte: eight bit offsets are tested against startOkTable() before any header is decoded.
  while (pos < last) {
    const i = pos >>> 3;
    const w = buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24);
    for (let r = pos & 7; r < 8 && pos < last; r++, pos++) {
      if (ok[(w >>> r) & 0x1fff] && precodeComplete(buf, pos) && isBlockStart(buf, pos)) return pos;
    }
  }
  return -1;
}

/** Appends bits least significant first, as deflate packs them. */
class BitWriter {
  readonly bytes: number[] = [];
  acc = 0;
  n = 0;
  put(value: number, count: number): void {
    for (let i = 0; i < count; i++) {
      this.acc |= ((value >> i) & 1) << this.n;
      if (++this.n === 8) {
        this.bytes.push(this.acc);
        this.acc = 0;
        this.n = 0;
      }
    }
  }
}

/** An empty non-final fixed block: header 0,01 and the 7-bit end-of-block code. 10 bits. */
function emptyFixed(w: BitWriter): void {
  w.put(0b010, 3);
  w.put(0, 7);
}

/**
 * An empty non-final dynamic block of 97 bits, the odd length that fixed
 * blocks (10 bits) cannot give: 257 literal/length codes of which only
 * literal 0 and end-of-block have a length (1 each), one unused distance
 * code, then end-of-block ('1').
 */
function emptyDynamic(w: BitWriter): void {
  w.put(0b100, 3);
  w.put(0, 5); // HLIT: 257
  w.put(0, 5); // HDIST: 1
  w.put(15, 4); // HCLEN: all 19 code-length codes
  // Code-length code: 18 -> '0', 0 -> '10', 1 -> '11' (canonical, written most significant bit first).
  const cl = new Array<number>(19).fill(0);
  cl[18] = 1;
  cl[0] = 2;
  cl[1] = 2;
  for (const s of CL_ORDER) w.put(cl[s]!, 3);
  const one = () => w.put(0b11, 2);
  const zero = () => w.put(0b01, 2);
  const zeros = (n: number) => {
    w.put(0, 1);
    w.put(n - 11, 7);
  };
  one(); // literal 0
  zeros(138); // literals 1..138
  zeros(117); // literals 139..255
  one(); // end-of-block
  zero(); // the one distance code
  w.put(1, 1); // end-of-block: literal 0 is '0', 256 is '1'
}

const heads: { bytes: number[]; acc: number }[] = [];
for (let r = 0; r < 8; r++) {
  const w = new BitWriter();
  if (r & 1) emptyDynamic(w);
  for (let i = 0; i < (r >> 1); i++) emptyFixed(w);
  if (w.n !== r) throw new Error(`no-op prefix for bit ${r} is ${w.n} bits off`);
  heads.push({ bytes: w.bytes, acc: w.acc });
}

/**
 * The start of a raw deflate input that begins at bit r (0..7) of `byte`:
 * empty non-final blocks whose length is r bits modulo 8, the last partial
 * byte merged with bits r..7 of `byte`. The data bytes after `byte` follow
 * as they are, so nothing after this point is shifted or copied.
 */
export function noopHead(r: number, byte: number): Buffer {
  const h = heads[r]!;
  const mask = (0xff << r) & 0xff;
  return Buffer.from([...h.bytes, (byte & mask) | h.acc]);
}

/**
 * Bytes that replace the input from the byte holding bit r (0..7) onwards:
 * its bits below r, then an empty final fixed block (1,01 and end-of-block),
 * in exactly as many bytes as those bits need. An inflate that consumes all
 * of them stopped on a block boundary at that bit.
 */
export function finalTail(r: number, byte: number): Buffer {
  const v = (byte & ((1 << r) - 1)) | (0b011 << r);
  return Buffer.from(r + 10 > 16 ? [v & 255, (v >> 8) & 255, 0] : [v & 255, (v >> 8) & 255]);
}

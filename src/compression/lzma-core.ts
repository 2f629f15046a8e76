/**
 * The LZMA decoder shared by xz (LZMA2 chunks) and legacy .lzma: a range
 * decoder plus the LZMA state machine, decoding into a circular dictionary.
 * Callers hand it input in pieces and copy output out of the dictionary with
 * takeOutput(); nothing else is buffered.
 */

export class LzmaDataError extends Error {}

/** The most input one symbol can use (LZMA SDK's LZMA_REQUIRED_INPUT_MAX): below this, wait for more input. */
export const REQUIRED_INPUT_MAX = 20;

const NUM_STATES = 12;
const POS_STATES_MAX = 16;
const LEN_LOW = 8;
const LEN_MID = 8;
const LEN_HIGH = 256;
const END_POS_MODEL_INDEX = 14;
const FULL_DISTANCES = 128;
const PROB_INIT = 1024;
const TOP = 1 << 24;

class LenDecoder {
  choice = new Uint16Array(2);
  low = new Uint16Array(POS_STATES_MAX * LEN_LOW);
  mid = new Uint16Array(POS_STATES_MAX * LEN_MID);
  high = new Uint16Array(LEN_HIGH);
  reset(): void {
    this.choice.fill(PROB_INIT);
    this.low.fill(PROB_INIT);
    this.mid.fill(PROB_INIT);
    this.high.fill(PROB_INIT);
  }
}

export class LzmaDecoder {
  // Dictionary (circular). `pos` is where the next byte goes; `outStart` is the first byte not yet taken.
  readonly dict: Uint8Array;
  private pos = 0;
  private outStart = 0;
  /** Bytes of history available for matches (min of bytes decoded since the dict reset and the dict size). */
  private full = 0;
  /** Total bytes decoded since the dict reset (for literal and pos-state contexts). */
  total = 0;

  private lc = 3;
  private lp = 0;
  private pb = 2;
  private literal = new Uint16Array(0x300 << 3);
  private isMatch = new Uint16Array(NUM_STATES * POS_STATES_MAX);
  private isRep = new Uint16Array(NUM_STATES);
  private isRepG0 = new Uint16Array(NUM_STATES);
  private isRepG1 = new Uint16Array(NUM_STATES);
  private isRepG2 = new Uint16Array(NUM_STATES);
  private isRep0Long = new Uint16Array(NUM_STATES * POS_STATES_MAX);
  private posSlot = new Uint16Array(4 * 64);
  private specPos = new Uint16Array(FULL_DISTANCES - END_POS_MODEL_INDEX);
  private align = new Uint16Array(16);
  private lenDec = new LenDecoder();
  private repLenDec = new LenDecoder();
  private state = 0;
  private rep0 = 0;
  private rep1 = 0;
  private rep2 = 0;
  private rep3 = 0;
  /** Bytes of a match still to copy when the output limit cut it short. */
  private pending = 0;
  /** Set when the end-of-payload marker was decoded. */
  endMarker = false;

  // Range decoder.
  private range = 0;
  private code = 0;
  private in: Uint8Array = new Uint8Array(0);
  inPos = 0;
  private inEnd = 0;

  constructor(dictSize: number) {
    this.dict = new Uint8Array(Math.max(dictSize, 4096));
  }

  /** Forget the history (LZMA2 dict reset, or a new stream). */
  resetDict(): void {
    this.pos = 0;
    this.outStart = 0;
    this.full = 0;
    this.total = 0;
  }

  /** lc/lp/pb from the props byte (pb * 5 + lp) * 9 + lc. */
  setProps(props: number): void {
    if (props >= 9 * 5 * 5) throw new LzmaDataError(`invalid LZMA properties byte ${props}`);
    this.lc = props % 9;
    const rest = Math.floor(props / 9);
    this.lp = rest % 5;
    this.pb = Math.floor(rest / 5);
    const n = 0x300 << (this.lc + this.lp);
    if (this.literal.length !== n) this.literal = new Uint16Array(n);
  }

  get lcPlusLp(): number {
    return this.lc + this.lp;
  }

  resetState(): void {
    this.literal.fill(PROB_INIT);
    this.isMatch.fill(PROB_INIT);
    this.isRep.fill(PROB_INIT);
    this.isRepG0.fill(PROB_INIT);
    this.isRepG1.fill(PROB_INIT);
    this.isRepG2.fill(PROB_INIT);
    this.isRep0Long.fill(PROB_INIT);
    this.posSlot.fill(PROB_INIT);
    this.specPos.fill(PROB_INIT);
    this.align.fill(PROB_INIT);
    this.lenDec.reset();
    this.repLenDec.reset();
    this.state = 0;
    this.rep0 = this.rep1 = this.rep2 = this.rep3 = 0;
    this.pending = 0;
    this.endMarker = false;
  }

  /** Point the range decoder at new input (the same bytes may be passed again, extended, with inPos kept). */
  setInput(buf: Uint8Array, pos: number, end: number): void {
    this.in = buf;
    this.inPos = pos;
    this.inEnd = end;
  }

  /** Read the 5 range-coder init bytes at inPos. */
  rcInit(): void {
    if (this.inPos + 5 > this.inEnd) throw new LzmaDataError('input ends inside the range coder header');
    if (this.in[this.inPos] !== 0) throw new LzmaDataError('range coder header does not start with 0');
    this.code = ((this.in[this.inPos + 1]! << 24) | (this.in[this.inPos + 2]! << 16) | (this.in[this.inPos + 3]! << 8) | this.in[this.inPos + 4]!) >>> 0;
    this.range = 0xffffffff;
    this.inPos += 5;
    if (this.code === this.range) throw new LzmaDataError('corrupt range coder header');
  }

  /** The encoder's flushed range coder state ends with code 0 after one last normalisation. */
  rcFinish(): boolean {
    if (this.range < TOP) {
      if (this.inPos >= this.inEnd) return false;
      this.range = (this.range << 8) >>> 0;
      this.code = ((this.code << 8) | this.in[this.inPos++]!) >>> 0;
    }
    return this.code === 0;
  }

  /** Room left in the dictionary before output must be taken. */
  get room(): number {
    return this.dict.length - this.pos;
  }

  /** Copy an LZMA2 uncompressed chunk into the dictionary (at most `room` bytes at a time). */
  copyIn(data: Uint8Array): void {
    this.dict.set(data, this.pos);
    this.pos += data.length;
    this.total += data.length;
    this.full = Math.min(this.full + data.length, this.dict.length);
  }

  /** Output produced since the last call (a copy); wraps the dictionary when it is full. */
  takeOutput(): Uint8Array {
    const out = this.dict.slice(this.outStart, this.pos);
    if (this.pos === this.dict.length) this.pos = 0;
    this.outStart = this.pos;
    return out;
  }

  private bit(probs: Uint16Array, i: number): number {
    if (this.range < TOP) {
      if (this.inPos >= this.inEnd) throw new TruncatedInput();
      this.range = (this.range << 8) >>> 0;
      this.code = ((this.code << 8) | this.in[this.inPos++]!) >>> 0;
    }
    const p = probs[i]!;
    const bound = (this.range >>> 11) * p;
    if (this.code < bound) {
      this.range = bound;
      probs[i] = p + ((2048 - p) >>> 5);
      return 0;
    }
    this.range -= bound;
    this.code -= bound;
    probs[i] = p - (p >>> 5);
    return 1;
  }

  private direct(n: number): number {
    let r = 0;
    for (let k = 0; k < n; k++) {
      if (this.range < TOP) {
        if (this.inPos >= this.inEnd) throw new TruncatedInput();
        this.range = (this.range << 8) >>> 0;
        this.code = ((this.code << 8) | this.in[this.inPos++]!) >>> 0;
      }
      this.range >>>= 1;
      if (this.code >= this.range) {
        this.code -= this.range;
        r = (r << 1) | 1;
      } else {
        r <<= 1;
      }
    }
    return r >>> 0;
  }

  private tree(probs: Uint16Array, base: number, bits: number): number {
    let m = 1;
    for (let k = 0; k < bits; k++) m = (m << 1) | this.bit(probs, base + m);
    return m - (1 << bits);
  }

  private reverseTree(probs: Uint16Array, base: number, bits: number): number {
    let m = 1;
    let r = 0;
    for (let k = 0; k < bits; k++) {
      const b = this.bit(probs, base + m);
      m = (m << 1) | b;
      r |= b << k;
    }
    return r;
  }

  private length(d: LenDecoder, posState: number): number {
    if (this.bit(d.choice, 0) === 0) return this.tree(d.low, posState * LEN_LOW, 3);
    if (this.bit(d.choice, 1) === 0) return 8 + this.tree(d.mid, posState * LEN_MID, 3);
    return 16 + this.tree(d.high, 0, 8);
  }

  private copyMatch(len: number): number {
    const dict = this.dict;
    const size = dict.length;
    const n = Math.min(len, size - this.pos);
    let from = this.pos - this.rep0 - 1;
    if (from < 0) from += size;
    let to = this.pos;
    if (from + n <= size) {
      // A forward byte loop is right even when source and destination overlap (repeating
      // the pattern, as LZ77 means); copyWithin only pays off for long separate runs.
      if (n >= 64 && (from + n <= to || to + n <= from)) dict.copyWithin(to, from, from + n);
      else for (let k = 0; k < n; k++) dict[to + k] = dict[from + k]!;
    } else {
      for (let k = 0; k < n; k++) {
        dict[to++] = dict[from++]!;
        if (from === size) from = 0;
      }
    }
    this.pos += n;
    this.total += n;
    this.full = Math.min(this.full + n, size);
    return len - n;
  }

  /**
   * Decode until `limit` more bytes are produced, the dictionary is full, the
   * end marker is seen, or (unless `final`) fewer than REQUIRED_INPUT_MAX
   * input bytes remain. Returns the number of bytes produced.
   * Throws LzmaDataError on corrupt data and TruncatedInput when the input
   * runs out mid-symbol (only possible when `final`).
   */
  decode(limit: number, final: boolean): number {
    const start = this.total;
    const stopAt = Math.min(this.pos + limit, this.dict.length);
    if (this.pending > 0) this.pending = this.copyMatchUpTo(this.pending, stopAt);
    const dict = this.dict;
    const pbMask = (1 << this.pb) - 1;
    const lpMask = (1 << this.lp) - 1;
    const lc = this.lc;
    while (this.pos < stopAt && !this.endMarker) {
      if (!final && this.inEnd - this.inPos < REQUIRED_INPUT_MAX) break;
      const posState = this.total & pbMask;
      let state = this.state;
      if (this.bit(this.isMatch, (state << 4) + posState) === 0) {
        const prev = this.full > 0 ? dict[this.pos === 0 ? dict.length - 1 : this.pos - 1]! : 0;
        const base = 0x300 * (((this.total & lpMask) << lc) + (prev >>> (8 - lc)));
        const probs = this.literal;
        let sym = 1;
        if (state < 7) {
          while (sym < 0x100) sym = (sym << 1) | this.bit(probs, base + sym);
        } else {
          let mi = this.pos - this.rep0 - 1;
          if (mi < 0) mi += dict.length;
          let match = dict[mi]!;
          let offs = 0x100;
          while (sym < 0x100) {
            match <<= 1;
            const mbit = match & offs;
            const b = this.bit(probs, base + offs + mbit + sym);
            sym = (sym << 1) | b;
            offs &= b ? mbit : ~mbit;
          }
        }
        dict[this.pos++] = sym & 0xff;
        this.total++;
        if (this.full < dict.length) this.full++;
        this.state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
        continue;
      }
      let len: number;
      if (this.bit(this.isRep, state) === 0) {
        len = this.length(this.lenDec, posState);
        this.state = state < 7 ? 7 : 10;
        const lenState = len < 3 ? len : 3;
        const slot = this.tree(this.posSlot, lenState << 6, 6);
        let dist: number;
        if (slot < 4) {
          dist = slot;
        } else {
          const nbits = (slot >>> 1) - 1;
          dist = ((2 | (slot & 1)) << nbits) >>> 0;
          if (slot < END_POS_MODEL_INDEX) {
            dist += this.reverseTree(this.specPos, dist - slot - 1, nbits);
          } else {
            dist = (dist + this.direct(nbits - 4) * 16) >>> 0;
            dist = (dist + this.reverseTree(this.align, 0, 4)) >>> 0;
          }
        }
        this.rep3 = this.rep2;
        this.rep2 = this.rep1;
        this.rep1 = this.rep0;
        this.rep0 = dist;
        if (dist === 0xffffffff) {
          this.endMarker = true;
          break;
        }
      } else {
        if (this.full === 0) throw new LzmaDataError('repeated match before any data');
        if (this.bit(this.isRepG0, state) === 0) {
          if (this.bit(this.isRep0Long, (state << 4) + posState) === 0) {
            this.state = state < 7 ? 9 : 11;
            let from = this.pos - this.rep0 - 1;
            if (from < 0) from += dict.length;
            dict[this.pos++] = dict[from]!;
            this.total++;
            if (this.full < dict.length) this.full++;
            continue;
          }
        } else {
          let dist: number;
          if (this.bit(this.isRepG1, state) === 0) {
            dist = this.rep1;
          } else {
            if (this.bit(this.isRepG2, state) === 0) {
              dist = this.rep2;
            } else {
              dist = this.rep3;
              this.rep3 = this.rep2;
            }
            this.rep2 = this.rep1;
          }
          this.rep1 = this.rep0;
          this.rep0 = dist;
        }
        len = this.length(this.repLenDec, posState);
        this.state = state < 7 ? 8 : 11;
      }
      if (this.rep0 >= this.full) throw new LzmaDataError(`match distance ${this.rep0 + 1} reaches before the start of the data`);
      this.pending = this.copyMatchUpTo(len + 2, stopAt);
    }
    return this.total - start;
  }

  private copyMatchUpTo(len: number, stopAt: number): number {
    const n = Math.min(len, stopAt - this.pos);
    return len - n + this.copyMatch(n);
  }

  /** A match cut short by the output limit is still pending. */
  get hasPending(): boolean {
    return this.pending > 0;
  }
}

/** The input ended in the middle of a symbol. */
export class TruncatedInput extends Error {}

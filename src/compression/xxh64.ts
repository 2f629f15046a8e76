/**
 * XXH64, the hash behind zstd's content checksum (the frame stores its low 32
 * bits), for the fzstd path, which does not check it. 64-bit arithmetic runs
 * on (hi, lo) 32-bit halves: BigInt would be about 10x slower.
 */

// Constants as [hi, lo].
const P1H = 0x9e3779b1, P1L = 0x85ebca87;
const P2H = 0xc2b2ae3d, P2L = 0x27d4eb4f;
const P3H = 0x165667b1, P3L = 0x9e3779f9;
const P4H = 0x85ebca77, P4L = 0xc2b2ae63;
const P5H = 0x27d4eb2f, P5L = 0x165667c5;

// Results of the 64-bit helpers (avoids allocating a pair per operation).
let rh = 0;
let rl = 0;

function add(ah: number, al: number, bh: number, bl: number): void {
  const lo = al + bl;
  rl = lo >>> 0;
  rh = (ah + bh + (lo > 0xffffffff ? 1 : 0)) >>> 0;
}

/** Low 64 bits of a * b (the high half of al * bl from 16-bit partial products). */
function mul(ah: number, al: number, bh: number, bl: number): void {
  const a0 = al & 0xffff;
  const a1 = al >>> 16;
  const b0 = bl & 0xffff;
  const b1 = bl >>> 16;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = ((a0 * b0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  const high = a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16);
  rl = Math.imul(al, bl) >>> 0;
  rh = (high + Math.imul(al, bh) + Math.imul(ah, bl)) >>> 0;
}

function rotl(h: number, l: number, r: number): void {
  if (r >= 32) {
    const t = h;
    h = l;
    l = t;
    r -= 32;
  }
  if (r === 0) {
    rh = h >>> 0;
    rl = l >>> 0;
    return;
  }
  rh = ((h << r) | (l >>> (32 - r))) >>> 0;
  rl = ((l << r) | (h >>> (32 - r))) >>> 0;
}

/** round(acc, lane) = rotl(acc + lane * P2, 31) * P1 */
function round(acch: number, accl: number, lh: number, ll: number): void {
  mul(lh, ll, P2H, P2L);
  add(acch, accl, rh, rl);
  rotl(rh, rl, 31);
  mul(rh, rl, P1H, P1L);
}

export class Xxh64 {
  private v = new Uint32Array(8); // v1..v4 as hi, lo pairs
  private buf = new Uint8Array(32);
  private bufLen = 0;
  private total = 0;

  constructor() {
    // seed 0: v1 = P1 + P2, v2 = P2, v3 = 0, v4 = -P1
    add(P1H, P1L, P2H, P2L);
    this.v[0] = rh;
    this.v[1] = rl;
    this.v[2] = P2H;
    this.v[3] = P2L;
    const nl = (-P1L >>> 0) >>> 0;
    this.v[6] = (~P1H + (nl === 0 ? 1 : 0)) >>> 0;
    this.v[7] = nl;
  }

  update(data: Uint8Array): void {
    this.total += data.length;
    let i = 0;
    if (this.bufLen) {
      const n = Math.min(32 - this.bufLen, data.length);
      this.buf.set(data.subarray(0, n), this.bufLen);
      this.bufLen += n;
      i = n;
      if (this.bufLen < 32) return;
      this.stripe(this.buf, 0);
      this.bufLen = 0;
    }
    for (; i + 32 <= data.length; i += 32) this.stripe(data, i);
    if (i < data.length) {
      this.buf.set(data.subarray(i), 0);
      this.bufLen = data.length - i;
    }
  }

  private stripe(d: Uint8Array, p: number): void {
    const v = this.v;
    for (let k = 0; k < 4; k++, p += 8) {
      const ll = (d[p]! | (d[p + 1]! << 8) | (d[p + 2]! << 16) | (d[p + 3]! << 24)) >>> 0;
      const lh = (d[p + 4]! | (d[p + 5]! << 8) | (d[p + 6]! << 16) | (d[p + 7]! << 24)) >>> 0;
      round(v[2 * k]!, v[2 * k + 1]!, lh, ll);
      v[2 * k] = rh;
      v[2 * k + 1] = rl;
    }
  }

  /** The low 32 bits of the digest (what a zstd frame stores). */
  digest32(): number {
    const v = this.v;
    let hh: number;
    let hl: number;
    if (this.total >= 32) {
      rotl(v[0]!, v[1]!, 1);
      let h = rh, l = rl;
      rotl(v[2]!, v[3]!, 7);
      add(h, l, rh, rl);
      h = rh;
      l = rl;
      rotl(v[4]!, v[5]!, 12);
      add(h, l, rh, rl);
      h = rh;
      l = rl;
      rotl(v[6]!, v[7]!, 18);
      add(h, l, rh, rl);
      hh = rh;
      hl = rl;
      for (let k = 0; k < 4; k++) {
        round(0, 0, v[2 * k]!, v[2 * k + 1]!);
        hh = (hh ^ rh) >>> 0;
        hl = (hl ^ rl) >>> 0;
        mul(hh, hl, P1H, P1L);
        add(rh, rl, P4H, P4L);
        hh = rh;
        hl = rl;
      }
    } else {
      hh = P5H;
      hl = P5L;
    }
    add(hh, hl, Math.floor(this.total / 4294967296), this.total >>> 0);
    hh = rh;
    hl = rl;
    const d = this.buf;
    let p = 0;
    const n = this.bufLen;
    for (; p + 8 <= n; p += 8) {
      const ll = (d[p]! | (d[p + 1]! << 8) | (d[p + 2]! << 16) | (d[p + 3]! << 24)) >>> 0;
      const lh = (d[p + 4]! | (d[p + 5]! << 8) | (d[p + 6]! << 16) | (d[p + 7]! << 24)) >>> 0;
      round(0, 0, lh, ll);
      hh = (hh ^ rh) >>> 0;
      hl = (hl ^ rl) >>> 0;
      rotl(hh, hl, 27);
      mul(rh, rl, P1H, P1L);
      add(rh, rl, P4H, P4L);
      hh = rh;
      hl = rl;
    }
    if (p + 4 <= n) {
      const w = (d[p]! | (d[p + 1]! << 8) | (d[p + 2]! << 16) | (d[p + 3]! << 24)) >>> 0;
      mul(0, w, P1H, P1L);
      hh = (hh ^ rh) >>> 0;
      hl = (hl ^ rl) >>> 0;
      rotl(hh, hl, 23);
      mul(rh, rl, P2H, P2L);
      add(rh, rl, P3H, P3L);
      hh = rh;
      hl = rl;
      p += 4;
    }
    for (; p < n; p++) {
      mul(0, d[p]!, P5H, P5L);
      hh = (hh ^ rh) >>> 0;
      hl = (hl ^ rl) >>> 0;
      rotl(hh, hl, 11);
      mul(rh, rl, P1H, P1L);
      hh = rh;
      hl = rl;
    }
    // Avalanche.
    hl = (hl ^ (hh >>> 1)) >>> 0; // h ^= h >> 33
    mul(hh, hl, P2H, P2L);
    hh = rh;
    hl = rl;
    hl = (hl ^ ((hl >>> 29) | (hh << 3))) >>> 0; // h ^= h >> 29
    hh = (hh ^ (hh >>> 29)) >>> 0;
    mul(hh, hl, P3H, P3L);
    hh = rh;
    hl = rl;
    hl = (hl ^ hh) >>> 0; // h ^= h >> 32
    return hl;
  }
}

// Block-start scanning and the synthetic bits around a chunk, with zlib as the oracle.
import t from 'tap';
import { readFileSync } from 'node:fs';
import zlib from 'node:zlib';
import { finalTail, findBlockStart, isBlockStart, noopHead } from '../../src/compression/deflate-boundary.js';
import { realisticData, tool } from './helpers.js';

const FAKE = Buffer.alloc(32768);
const deflate = (data: Buffer) => {
  const gz = tool('gzip', ['-6', '-n', '-c'], data);
  return gz.subarray(10, gz.length - 8);
};
const payload = Buffer.concat([realisticData(1_500_000), Buffer.from('text line\n'.repeat(50_000))]);
const raw = deflate(payload);

/** `buf` moved r bits up: bit i of buf becomes bit i + r; the bits below r of the first byte are `low`. */
function shiftUp(buf: Buffer, r: number, low: number): Buffer {
  const out = Buffer.alloc(buf.length + 1);
  out[0] = low & ((1 << r) - 1);
  for (let i = 0; i < buf.length; i++) {
    out[i] |= (buf[i]! << r) & 0xff;
    out[i + 1] = buf[i]! >> (8 - r);
  }
  return out;
}

t.test('no-op prefix: a stream starting at any bit 0..7 of a byte inflates unchanged', async (t) => {
  // A stored block pads to a byte boundary counted from the stream's start, so
  // a whole stream moved by r bits is valid only without one. Machine code and
  // text never make gzip store a block; an initramfs's firmware can.
  const plain = Buffer.concat([readFileSync('/usr/bin/bash'), Buffer.from('text line\n'.repeat(50_000))]);
  const stream = deflate(plain);
  for (let r = 0; r < 8; r++) {
    // The bits below r are junk (0xff) the prefix must hide.
    const moved = shiftUp(stream, r, 0xff);
    const input = Buffer.concat([noopHead(r, moved[0]!), moved.subarray(1)]);
    t.ok(zlib.inflateRawSync(input).equals(plain), `r = ${r}`);
  }
});

/** Block starts of `raw`, proven by chaining: each decodes from the one before and ends exactly on a final tail there. */
function provenStarts(): number[] {
  const starts = [0];
  let pos = 1;
  for (;;) {
    const b = findBlockStart(raw, pos, raw.length * 8);
    if (b < 0) return starts;
    pos = b + 1;
    const s = starts[starts.length - 1]!;
    const k = s >> 3;
    const ke = b >> 3;
    const input = Buffer.concat([noopHead(s & 7, raw[k]!), raw.subarray(k + 1, ke), finalTail(b & 7, raw[ke]!)]);
    const r = zlib.inflateRawSync(input, { dictionary: FAKE, info: true } as zlib.ZlibOptions) as unknown as { engine: { bytesWritten: number } };
    if (r.engine.bytesWritten === input.length) starts.push(b);
  }
}

t.test('every candidate the scan finds in gzip -6 output is a real block start', async (t) => {
  const starts = provenStarts();
  let candidates = 0;
  for (let pos = 0; ; candidates++) {
    const b = findBlockStart(raw, pos, raw.length * 8);
    if (b < 0) break;
    pos = b + 1;
  }
  t.ok(starts.length > 10, `${starts.length} blocks`);
  t.equal(starts.length, candidates, 'no false candidate');
  t.ok(new Set(starts.map((s) => s & 7)).size >= 6, 'starts at many bit offsets');
});

t.test('final tail: the output up to a block start is exact, and a tail one bit off does not end cleanly', async (t) => {
  const starts = provenStarts();
  const whole = zlib.inflateRawSync(raw);
  const seen = new Set<number>();
  for (let i = 1; i < starts.length; i++) {
    const b = starts[i]!;
    if (seen.has(b & 7)) continue;
    seen.add(b & 7);
    const ke = b >> 3;
    const input = Buffer.concat([raw.subarray(0, ke), finalTail(b & 7, raw[ke]!)]);
    const out = zlib.inflateRawSync(input);
    t.ok(whole.subarray(0, out.length).equals(out), `tail at bit ${b & 7}: output is a prefix`);
    for (const off of [-1, 1]) {
      const e = b + off;
      const bad = Buffer.concat([raw.subarray(0, e >> 3), finalTail(e & 7, raw[e >> 3]!)]);
      let clean = false;
      try {
        const r = zlib.inflateRawSync(bad, { info: true } as zlib.ZlibOptions) as unknown as { engine: { bytesWritten: number } };
        clean = r.engine.bytesWritten === bad.length;
      } catch {
        clean = false;
      }
      t.notOk(clean, `tail at bit ${b}${off > 0 ? '+1' : '-1'} is not taken for a boundary`);
    }
  }
  t.ok(seen.size >= 6, `bit offsets tried: ${[...seen].sort().join(',')}`);
});

// zlib's messages for a dynamic block header it refuses (inflate.c).
const HEADER_ERRORS = ['invalid code lengths set', 'invalid bit length repeat', 'too many length or distance symbols', 'invalid literal/lengths set', 'invalid distances set', 'invalid code -- missing end-of-block'];

/**
 * zlib's verdict on a non-final dynamic header at bit p: does it get past
 * it? A header error may also come from a later block: then zlib decoded
 * output from this one before failing.
 */
function zlibAccepts(buf: Buffer, p: number): boolean {
  const k = p >> 3;
  // A header is at most 300 bytes: zlib is past it, or failed in it, within this input.
  const input = Buffer.concat([noopHead(p & 7, buf[k]!), buf.subarray(k + 1, k + 400)]);
  const run = (n: number): number | Error => {
    try {
      return zlib.inflateRawSync(input.subarray(0, n), { dictionary: FAKE, finishFlush: zlib.constants.Z_SYNC_FLUSH }).length;
    } catch (e) {
      return e as Error;
    }
  };
  const all = run(input.length);
  if (!(all instanceof Error) || !HEADER_ERRORS.includes(all.message)) return true;
  // The longest input that does not fail yet (a cut input is no error with a sync flush).
  let lo = 0;
  let hi = input.length;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (run(mid) instanceof Error) hi = mid;
    else lo = mid;
  }
  return (run(lo) as number) > 0;
}

t.test('header checks agree with zlib on real headers with one bit flipped', async (t) => {
  const starts = provenStarts().slice(1, 12);
  let accepted = 0;
  let refused = 0;
  for (const s of starts) {
    const k = s >> 3;
    const region = Buffer.from(raw.subarray(k, k + 5000));
    const p = s & 7;
    t.ok(isBlockStart(region, p) && zlibAccepts(region, p), 'the real header');
    // Bits 0..2 (BFINAL, BTYPE) stay: a final or non-dynamic block is refused on purpose. A header
    // is a few hundred bits long: later flips hit the block's data, which zlib accepts as a header.
    for (let bit = p + 3; bit < p + 3000; bit += bit < p + 1000 ? 1 : 7) {
      region[bit >> 3] ^= 1 << (bit & 7);
      const ours = isBlockStart(region, p);
      const theirs = zlibAccepts(region, p);
      if (ours !== theirs) t.fail(`header at ${s}, bit ${bit - p} flipped: ours ${ours}, zlib ${theirs}`);
      if (theirs) accepted++;
      else refused++;
      region[bit >> 3] ^= 1 << (bit & 7);
    }
  }
  t.ok(accepted > 100 && refused > 100, `${accepted} accepted, ${refused} refused`);
});

t.test('header checks agree with zlib at random positions of random data', async (t) => {
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  const buf = Buffer.alloc(1 << 18);
  for (let i = 0; i < buf.length; i++) buf[i] = rnd();
  let tried = 0;
  for (let p = 0; p < (buf.length - 5000) * 8; p++) {
    // Only positions that start a non-final dynamic block (1 in 8) are zlib's to judge here.
    if ((((buf[p >> 3]! | (buf[(p >> 3) + 1]! << 8)) >> (p & 7)) & 7) !== 4) continue;
    if (p % 89 !== 0) continue;
    tried++;
    const ours = isBlockStart(buf, p);
    if (ours !== zlibAccepts(buf, p)) t.fail(`random data bit ${p}: ours ${ours}`);
  }
  t.ok(tried > 2000, `${tried} positions`);
});

t.test('the scan stays inside its range and away from the buffer end', async (t) => {
  const s = provenStarts()[3]!;
  t.equal(findBlockStart(raw, s, s + 1), s);
  t.equal(findBlockStart(raw, s + 1, s + 2), -1);
  t.equal(findBlockStart(raw.subarray(0, (s >> 3) + 100), s, s + 1), -1, 'header may run past the end: undecided');
});

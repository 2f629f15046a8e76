import zlib from 'node:zlib';

/** CRC-32 (gzip, xz, lzop): zlib's, native. */
export function crc32(data: Uint8Array, prev = 0): number {
  return zlib.crc32(data, prev) >>> 0;
}

let crc64Lo: Uint32Array | undefined;
let crc64Hi: Uint32Array | undefined;

/** CRC-64/XZ (ECMA-182 reflected), computed on two 32-bit halves to stay off BigInt in the loop. */
export function crc64(data: Uint8Array, prev: bigint = 0n): bigint {
  if (!crc64Lo || !crc64Hi) {
    crc64Lo = new Uint32Array(256);
    crc64Hi = new Uint32Array(256);
    const poly = 0xc96c5795d7870f42n;
    for (let i = 0; i < 256; i++) {
      let c = BigInt(i);
      for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ poly : c >> 1n;
      crc64Lo[i] = Number(c & 0xffffffffn);
      crc64Hi[i] = Number(c >> 32n);
    }
  }
  const lo = crc64Lo;
  const hi = crc64Hi;
  const inv = ~prev & 0xffffffffffffffffn;
  let cl = Number(inv & 0xffffffffn) >>> 0;
  let ch = Number(inv >> 32n) >>> 0;
  for (let i = 0; i < data.length; i++) {
    const idx = (cl ^ data[i]!) & 0xff;
    cl = ((cl >>> 8) | (ch << 24)) ^ lo[idx]!;
    ch = (ch >>> 8) ^ hi[idx]!;
  }
  return (~((BigInt(ch >>> 0) << 32n) | BigInt(cl >>> 0))) & 0xffffffffffffffffn;
}

/** Adler-32 (lzop's default block and header checksum). */
export function adler32(data: Uint8Array, prev = 1): number {
  let a = prev & 0xffff;
  let b = prev >>> 16;
  let i = 0;
  while (i < data.length) {
    // 5552 is the most bytes that cannot overflow before the modulo (zlib's NMAX).
    const end = Math.min(i + 5552, data.length);
    for (; i < end; i++) {
      a += data[i]!;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/**
 * Decoder of xz's x86 BCJ filter (filter id 0x04). Before compression the
 * filter turned the relative targets of x86 CALL/JMP (E8/E9) into absolute
 * addresses, which repeat and so compress better; decoding turns them back.
 * Linux compresses its x86 kernel with it (`xz --x86`), so a bzImage's xz
 * payload cannot be read without it. Written from the format's description
 * (xz file format, section 5.3.3); the xz program is the oracle in the tests.
 */
const isMsByte = (b: number) => b === 0 || b === 0xff;
/** Which patterns of recent E8/E9 bytes still allow a conversion, and which byte of the operand to test. */
const ALLOWED = [true, true, true, false, true, false, false, false];
const BIT_NUM = [0, 1, 2, 2, 3, 3, 3, 3];

export class BcjX86Decoder {
  /** Uncompressed stream position of the next byte to convert (addresses wrap at 2^32). */
  private pos: number;
  private prevMask = 0;
  /** The last bytes of the previous input: an instruction may continue in the next one. */
  private held: Buffer = Buffer.alloc(0);

  constructor(start = 0) {
    this.pos = start >>> 0;
  }

  /** Converts what it can; keeps back up to four bytes until more input or end(). The result is a new buffer. */
  push(data: Uint8Array): Buffer {
    const buf = Buffer.concat([this.held, data]);
    const n = this.convert(buf);
    this.held = Buffer.from(buf.subarray(n));
    this.pos = (this.pos + n) >>> 0;
    return buf.subarray(0, n);
  }

  /** The bytes kept back, unchanged: too short to hold an instruction with its operand. */
  end(): Buffer {
    const rest = this.held;
    this.held = Buffer.alloc(0);
    return rest;
  }

  private convert(buf: Buffer): number {
    if (buf.length <= 4) return 0;
    const limit = buf.length - 4;
    let prevMask = this.prevMask;
    // As if the previous E8/E9 were just before this buffer: the saved mask is relative to that place.
    let prevPos = -1;
    let i = 0;
    for (; i < limit; i++) {
      if ((buf[i]! & 0xfe) !== 0xe8) continue;
      const gap = i - prevPos;
      if (gap > 3) {
        prevMask = 0;
      } else {
        prevMask = (prevMask << (gap - 1)) & 7;
        if (prevMask !== 0 && (!ALLOWED[prevMask] || isMsByte(buf[i + 4 - BIT_NUM[prevMask]!]!))) {
          prevPos = i;
          prevMask = (prevMask << 1) | 1;
          continue;
        }
      }
      prevPos = i;
      if (!isMsByte(buf[i + 4]!)) {
        prevMask = (prevMask << 1) | 1;
        continue;
      }
      let src = buf.readUInt32LE(i + 1);
      let dest: number;
      for (;;) {
        dest = (src - (this.pos + i + 5)) >>> 0;
        if (prevMask === 0) break;
        const shift = BIT_NUM[prevMask]! * 8;
        if (!isMsByte((dest >>> (24 - shift)) & 0xff)) break;
        src = (dest ^ (2 ** (32 - shift) - 1)) >>> 0;
      }
      // Bit 24 is copied into the top byte: a near target is a sign-extended 25-bit value.
      dest &= 0x01ffffff;
      if (dest & 0x01000000) dest |= 0xfe000000;
      buf.writeUInt32LE(dest >>> 0, i + 1);
      i += 4;
    }
    const gap = i - prevPos;
    this.prevMask = gap > 3 ? 0 : (prevMask << (gap - 1)) & 0xff;
    return i;
  }
}

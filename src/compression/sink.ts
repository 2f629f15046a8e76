import { FormatError } from '../errors.js';

/** Size of the chunks decoders yield: large enough to amortise per-chunk costs downstream. */
export const OUTPUT_CHUNK = 512 * 1024;

/**
 * Counts a member's output against the decompression-bomb limit and gathers
 * small pieces into chunks of about OUTPUT_CHUNK bytes.
 */
export class OutputSink {
  private parts: Buffer[] = [];
  private pending = 0;
  total = 0;

  constructor(
    private readonly format: string,
    private readonly maxOutput: number = Infinity,
  ) {}

  /** Add output; the buffer must not be reused by the caller afterwards. */
  push(b: Uint8Array): void {
    if (b.length === 0) return;
    this.total += b.length;
    if (this.total > this.maxOutput) {
      throw new FormatError(`${this.format} member expands beyond the ${this.maxOutput}-byte output limit (decompression bomb guard)`);
    }
    this.parts.push(Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.length));
    this.pending += b.length;
  }

  get ready(): boolean {
    return this.pending >= OUTPUT_CHUNK;
  }

  /** Everything gathered so far as one buffer (possibly empty). */
  take(): Buffer {
    const out = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.pending);
    this.parts = [];
    this.pending = 0;
    return out;
  }

  /** Everything gathered, cut into OUTPUT_CHUNK pieces (views, no copy). */
  takeChunks(): Buffer[] {
    const all = this.take();
    const out: Buffer[] = [];
    for (let o = 0; o < all.length; o += OUTPUT_CHUNK) out.push(all.subarray(o, o + OUTPUT_CHUNK));
    return out;
  }
}

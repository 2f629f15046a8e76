import { FormatError } from '../errors.js';
import { chunks } from './buffers.js';
import type { FileOrigin, MemberInput } from './types.js';

/**
 * Buffered reading of one member's compressed bytes with offsets relative to
 * the member start. Decoders take what they need and `finish()` hands every
 * byte past the member end back to the caller.
 */
export class ByteSource {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  /** Member offset of buf[0]. */
  private base = 0;
  private eof = false;
  /** The decoder keeps no view of its input past the next fill: read chunks go back to the pool (buffers.ts). */
  private reuse = false;
  /** Where the member starts in the image file, when the input is one. */
  readonly origin?: FileOrigin;

  constructor(
    private readonly input: MemberInput,
    /** Format name used in "truncated <fmt> data" errors. */
    readonly format: string,
  ) {
    if (input.path !== undefined && input.offset !== undefined) this.origin = { path: input.path, start: input.offset };
  }

  /** Offset (from the member start) of the next unconsumed byte. */
  get offset(): number {
    return this.base + this.pos;
  }

  get available(): number {
    return this.buf.length - this.pos;
  }

  get atEof(): boolean {
    return this.eof && this.pos >= this.buf.length;
  }

  /** Make at least n bytes available; false if the input ends first. */
  async fill(n: number): Promise<boolean> {
    if (this.available >= n) return true;
    if (this.eof) return false;
    // An empty remainder is left out, so a single new chunk is used as it is (no copy).
    const parts: Buffer[] = this.available ? [this.buf.subarray(this.pos)] : [];
    let have = this.available;
    while (have < n) {
      const chunk = await this.input.read();
      if (chunk === null) {
        this.eof = true;
        break;
      }
      if (chunk.length === 0) continue;
      parts.push(chunk);
      have += chunk.length;
    }
    this.base += this.pos;
    const old = this.buf;
    this.buf = parts.length === 1 ? parts[0]! : Buffer.concat(parts, have);
    this.pos = 0;
    if (this.reuse) {
      // What is left of them was copied, or is the new buffer itself.
      if (old.buffer !== this.buf.buffer) chunks.give(old);
      if (parts.length > 1) for (const p of parts) chunks.give(p);
    }
    return have >= n;
  }

  /** From now on the decoder keeps no view of its input past the next fill (it consumes it synchronously). */
  reuseInput(): void {
    this.reuse = true;
  }

  /** Read more input if there is any: false at the end of the input. */
  async more(): Promise<boolean> {
    return this.fill(this.available + 1);
  }

  /** Like fill, but a short input is a truncated member. */
  async need(n: number): Promise<void> {
    if (!(await this.fill(n))) throw this.truncated();
  }

  truncated(): FormatError {
    return new FormatError(`truncated ${this.format} data`, { offset: this.base + this.buf.length });
  }

  /** The next n available bytes, consumed (a view: copy before the next fill if it must live on). */
  take(n: number): Buffer {
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Consumes n bytes as they come, never gathering them: each piece (a view) goes to `each`. */
  async pass(n: number, each: (piece: Buffer) => void): Promise<void> {
    while (n > 0) {
      if (this.available === 0 && !(await this.more())) throw this.truncated();
      const k = Math.min(n, this.available);
      each(this.take(k));
      n -= k;
    }
  }

  /**
   * Consumes n bytes without looking at them; past the buffer, an input that
   * can skip (a file) is not read at all. Bytes missing at the end of the
   * input surface as truncation on the next read.
   */
  async discard(n: number): Promise<void> {
    if (n <= this.available || !this.input.skip) return this.pass(n, () => undefined);
    const rest = n - this.available;
    this.base += this.buf.length;
    if (this.reuse) chunks.give(this.buf);
    this.buf = Buffer.alloc(0);
    this.pos = 0;
    // Past the end of the input the offset stays at its end, where the truncation is then reported.
    this.base += this.input.skip(rest);
  }

  peek(n: number): Buffer {
    return this.buf.subarray(this.pos, this.pos + n);
  }

  skip(n: number): void {
    this.pos += n;
  }

  /** Give back the last n bytes taken (they must come from the current buffer). */
  rewind(n: number): void {
    if (n > this.pos) throw new Error('ByteSource.rewind past the buffer start');
    this.pos -= n;
  }

  /** The buffered bytes and the position in them, for decoders that scan the buffer directly. */
  view(): { buf: Buffer; pos: number } {
    return { buf: this.buf, pos: this.pos };
  }

  /** Hand back everything after the member end. */
  finish(): void {
    if (this.pos < this.buf.length) this.input.unread(this.buf.subarray(this.pos));
    this.base += this.pos;
    this.buf = Buffer.alloc(0);
    this.pos = 0;
  }
}

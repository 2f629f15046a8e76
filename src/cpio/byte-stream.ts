/** Anything that hands out chunks and can take unused bytes back. */
export interface ChunkSource {
  read(): Promise<Buffer | null>;
  unread?(rest: Buffer): void;
}

/**
 * A pull parser's view of a chunked stream: look ahead a few bytes, take a
 * header, stream a body, without copying bodies. `offset` counts bytes handed
 * out, i.e. the stream position of the next unread byte.
 */
export class ByteStream {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  offset = 0;

  constructor(private src: ChunkSource) {}

  get buffered(): number {
    return this.buf.length - this.pos;
  }

  /** Makes at least n bytes available if the stream has them; returns how many are. */
  async ensure(n: number): Promise<number> {
    while (this.buf.length - this.pos < n) {
      const c = await this.src.read();
      if (!c) break;
      if (c.length === 0) continue;
      this.buf = this.pos === this.buf.length ? c : Buffer.concat([this.buf.subarray(this.pos), c]);
      this.pos = 0;
    }
    return this.buf.length - this.pos;
  }

  /** The underlying buffer and position of the next byte; valid until the next ensure(). */
  view(): { buf: Buffer; pos: number } {
    return { buf: this.buf, pos: this.pos };
  }

  advance(n: number): void {
    this.pos += n;
    this.offset += n;
  }

  take(n: number): Buffer {
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.advance(n);
    return b;
  }

  /** Yields exactly n bytes as they arrive (fewer only if the stream ends: the caller checks). */
  async *body(n: number): AsyncGenerator<Buffer, void, undefined> {
    while (n > 0) {
      if (this.buf.length === this.pos && (await this.ensure(1)) === 0) return;
      const k = Math.min(n, this.buf.length - this.pos);
      const b = this.buf.subarray(this.pos, this.pos + k);
      this.advance(k);
      n -= k;
      yield b;
    }
  }

  /** Skips n bytes; returns how many could be skipped. */
  async skip(n: number): Promise<number> {
    let done = 0;
    while (done < n) {
      if (this.buf.length === this.pos && (await this.ensure(1)) === 0) break;
      const k = Math.min(n - done, this.buf.length - this.pos);
      this.advance(k);
      done += k;
    }
    return done;
  }

  /** Hands every buffered byte back to the source, so the next reader starts exactly here. */
  giveBack(): void {
    if (this.buf.length > this.pos && this.src.unread) this.src.unread(Buffer.from(this.buf.subarray(this.pos)));
    this.buf = Buffer.alloc(0);
    this.pos = 0;
  }
}

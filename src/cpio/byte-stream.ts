import { chunks } from '../compression/buffers.js';

/** Anything that hands out chunks and can take unused bytes back. */
export interface ChunkSource {
  read(): Promise<Buffer | null>;
  unread?(rest: Buffer): void;
  /** Moves past n bytes without reading them (a file seeks); returns how many there were. */
  skip?(n: number): number;
}

const EMPTY = Buffer.alloc(0);

/**
 * A pull parser's view of a chunked stream: look ahead a few bytes, take a
 * header, stream a body, without copying bodies. Only a header that straddles
 * two chunks is copied, and only its own bytes. `offset` counts bytes handed
 * out, i.e. the stream position of the next unread byte.
 *
 * The parser is the last reader of every chunk: each one goes back to the
 * chunk pool (compression/buffers.ts) as soon as the stream has moved past
 * it, so views handed out (view, take, body) are valid only until then.
 */
export class ByteStream {
  private buf: Buffer = EMPTY;
  private pos = 0;
  /** Chunks read ahead, after `buf`. */
  private queue: Buffer[] = [];
  private queued = 0;
  offset = 0;

  constructor(private src: ChunkSource) {}

  /** Bytes available contiguously in the current buffer. */
  get buffered(): number {
    return this.buf.length - this.pos;
  }

  /**
   * Whether n bytes are there contiguously already. The reader asks before
   * ensure() and skip(): an await allocates even when nothing is waited for,
   * and a listing would await several times per entry for bytes it has.
   */
  has(n: number): boolean {
    return this.buf.length - this.pos >= n;
  }

  /** Moves past n bytes if they are buffered (true); else leaves everything as it is, for skip(). */
  skipBuffered(n: number): boolean {
    if (!this.has(n)) return false;
    this.advance(n);
    return true;
  }

  /**
   * Makes n bytes contiguous (fewer only at the end of the stream) and returns
   * how many contiguous bytes there are.
   */
  async ensure(n: number): Promise<number> {
    while (this.buf.length - this.pos + this.queued < n) {
      const c = await this.src.read();
      if (!c) break;
      if (c.length === 0) continue;
      this.queue.push(c);
      this.queued += c.length;
    }
    let have = this.buf.length - this.pos;
    if (have === 0 && this.queue.length) {
      this.next();
      have = this.buf.length;
    }
    if (have >= n || this.queue.length === 0) return have;
    // Straddling: copy the tail of this buffer and just enough of what follows.
    const parts = [this.buf.subarray(this.pos)];
    let need = n - have;
    const passed = [this.buf];
    while (need > 0 && this.queue.length) {
      const f = this.queue[0];
      if (f.length <= need) {
        parts.push(f);
        passed.push(f);
        need -= f.length;
        this.queue.shift();
        this.queued -= f.length;
      } else {
        parts.push(f.subarray(0, need));
        this.queue[0] = f.subarray(need);
        this.queued -= need;
        need = 0;
      }
    }
    // A header that straddles two chunks is copied: once per chunk at most, a few hundred bytes.
    this.buf = Buffer.concat(parts);
    this.pos = 0;
    for (const p of passed) chunks.give(p);
    return this.buf.length;
  }

  private next(): void {
    const c = this.queue.shift()!;
    this.queued -= c.length;
    this.moveTo(c);
  }

  /** Leaves the current buffer for `c`: the old one is done with. */
  private moveTo(c: Buffer): void {
    chunks.give(this.buf);
    this.buf = c;
    this.pos = 0;
  }

  /** Moves to the next chunk; false at the end of the stream. */
  private async refill(): Promise<boolean> {
    if (this.queue.length) {
      this.next();
      return true;
    }
    for (;;) {
      const c = await this.src.read();
      if (!c) return false;
      if (c.length === 0) continue;
      this.moveTo(c);
      return true;
    }
  }

  /** The underlying buffer and position of the next byte; valid until the next ensure(). */
  view(): { buf: Buffer; pos: number } {
    return { buf: this.buf, pos: this.pos };
  }

  /** Consumes n bytes that ensure() made contiguous. */
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
      if (this.buf.length === this.pos && !(await this.refill())) return;
      const k = Math.min(n, this.buf.length - this.pos);
      const b = this.buf.subarray(this.pos, this.pos + k);
      this.advance(k);
      n -= k;
      yield b;
    }
  }

  /** Skips n bytes; returns how many could be skipped. Past what is buffered, a source that can skip is not read. */
  async skip(n: number): Promise<number> {
    let done = 0;
    while (done < n) {
      if (this.buf.length === this.pos && this.queue.length === 0 && this.src.skip) {
        this.moveTo(EMPTY);
        const k = this.src.skip(n - done);
        this.offset += k;
        return done + k;
      }
      if (this.buf.length === this.pos && !(await this.refill())) break;
      const k = Math.min(n - done, this.buf.length - this.pos);
      this.advance(k);
      done += k;
    }
    return done;
  }

  /** Hands every buffered byte back to the source, so the next reader starts exactly here. */
  giveBack(): void {
    if (this.src.unread) {
      // unread() is a stack: push the furthest bytes first.
      for (let i = this.queue.length - 1; i >= 0; i--) this.src.unread(this.queue[i]);
      if (this.buf.length > this.pos) this.src.unread(this.buf.subarray(this.pos));
    }
    this.buf = EMPTY;
    this.pos = 0;
    this.queue = [];
    this.queued = 0;
  }
}

import { closeSync, fstatSync, readSync } from 'node:fs';
import { chunks } from '../compression/buffers.js';
import type { MemberInput } from '../compression/types.js';
import { openForReading, RdError, EXIT } from '../errors.js';
import { track } from './progress.js';

/**
 * The first read after a seek: a cpio header and name (a few hundred bytes
 * for almost every entry), often a small file or two after it. 700 reads of 16 KiB
 * took 2.1-4.5 ms here against 0.8-1.4 ms for 4 KiB: a listing copies what it reads.
 */
const AFTER_SEEK = 4 * 1024;
/**
 * Reads are synchronous, so reading never returns to the event loop by
 * itself and timers (the progress line) would not fire: it is given a turn
 * this often.
 */
const TURN_MS = 50;

/**
 * Sequential reader over the image file with push-back, so a decoder can
 * return the bytes that follow its member. `offset` is the file position of
 * the next byte read() will hand out, which is what error messages report.
 *
 * Reads are positioned reads into the shared chunk pool (compression/buffers.ts),
 * so skipping data is a seek. After one, reads start small and grow fourfold
 * while reading goes on: a listing that seeks from header to header reads a
 * few KiB per entry instead of a chunk.
 */
export class FileSource implements MemberInput {
  private pending: Buffer[] = [];
  private pos = 0;
  private eof = false;
  private span = chunks.size;
  offset = 0;
  private untrack = () => {};
  private lastTurn = performance.now();

  /** File position where the source ends (a range of the file, e.g. a UKI section, ends before the file does; unknown for a device). */
  private readonly end: number;

  private constructor(
    private fd: number | undefined,
    readonly path: string,
    readonly size: number,
    start: number,
    end: number,
  ) {
    this.pos = this.offset = start;
    this.end = end;
  }

  /** The whole file, or `range` of it: offsets stay file offsets. */
  static async open(path: string, range?: { offset: number; length: number }): Promise<FileSource> {
    const fd = openForReading(path);
    const st = fstatSync(fd);
    if (st.isDirectory()) {
      closeSync(fd);
      throw new RdError('is a directory, not an image', { file: path }, EXIT.badInput);
    }
    const src = range ? new FileSource(fd, path, range.length, range.offset, range.offset + range.length) : new FileSource(fd, path, st.size, 0, st.isFile() ? st.size : Infinity);
    const start = range?.offset ?? 0;
    src.untrack = track({ path, direction: 'reading', done: () => src.pos - start, total: src.size });
    return src;
  }

  async read(): Promise<Buffer | null> {
    const p = this.pending.pop();
    if (p) {
      this.offset += p.length;
      return p;
    }
    if (this.eof || this.fd === undefined) return null;
    if (performance.now() - this.lastTurn > TURN_MS) {
      await new Promise(setImmediate);
      this.lastTurn = performance.now();
    }
    const want = Math.min(this.span, this.end - this.pos);
    const buf = chunks.take();
    let bytesRead = 0;
    try {
      if (want > 0) bytesRead = readSync(this.fd, buf, 0, want, this.pos);
    } catch (e) {
      chunks.give(buf);
      throw new RdError(`read error: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file: this.path, offset: this.pos }, EXIT.badInput);
    }
    this.span = Math.min(this.span * 4, buf.length);
    if (bytesRead === 0) {
      chunks.give(buf);
      this.eof = true;
      return null;
    }
    this.pos += bytesRead;
    this.offset += bytesRead;
    return bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
  }

  /** Moves past the next n bytes (bytes given back first, then a seek); returns how many the source still had. */
  skip(n: number): number {
    let done = 0;
    while (done < n && this.pending.length) {
      const p = this.pending.pop()!;
      const k = Math.min(n - done, p.length);
      if (k < p.length) this.pending.push(p.subarray(k));
      done += k;
    }
    const seek = Math.min(n - done, Math.max(0, this.end - this.pos));
    if (seek > 0) {
      this.pos += seek;
      this.span = AFTER_SEEK;
    }
    done += seek;
    // Past the end there is nothing to read; the next read says so.
    if (done < n) this.pos += n - done;
    this.offset += n;
    return done;
  }

  unread(rest: Buffer): void {
    if (rest.length === 0) return;
    this.pending.push(rest);
    this.offset -= rest.length;
  }

  async close(): Promise<void> {
    this.untrack();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

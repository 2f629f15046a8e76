import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { chunks } from '../compression/buffers.js';
import type { MemberInput } from '../compression/types.js';
import { RdError, EXIT } from '../errors.js';

/** The first read after a seek: a cpio header and name, and often the small files after it. */
const AFTER_SEEK = 16 * 1024;

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

  private constructor(
    private fd: number | undefined,
    readonly path: string,
    readonly size: number,
    /** Where a seek stops: the file's size, unknown for a device. */
    private readonly limit: number,
  ) {}

  static async open(path: string): Promise<FileSource> {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.code === 'EISDIR' ? 'is a directory' : err.message;
      throw new RdError(why, { file: path }, EXIT.badInput);
    }
    const st = fstatSync(fd);
    if (st.isDirectory()) {
      closeSync(fd);
      throw new RdError('is a directory, not an image', { file: path }, EXIT.badInput);
    }
    return new FileSource(fd, path, st.size, st.isFile() ? st.size : Infinity);
  }

  async read(): Promise<Buffer | null> {
    const p = this.pending.pop();
    if (p) {
      this.offset += p.length;
      return p;
    }
    if (this.eof || this.fd === undefined) return null;
    const buf = chunks.take();
    let bytesRead: number;
    try {
      bytesRead = readSync(this.fd, buf, 0, this.span, this.pos);
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

  /** Moves past the next n bytes (bytes given back first, then a seek); returns how many the file still had. */
  skip(n: number): number {
    let done = 0;
    while (done < n && this.pending.length) {
      const p = this.pending.pop()!;
      const k = Math.min(n - done, p.length);
      if (k < p.length) this.pending.push(p.subarray(k));
      done += k;
    }
    const seek = Math.min(n - done, Math.max(0, this.limit - this.pos));
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
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

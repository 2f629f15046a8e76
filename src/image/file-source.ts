import { open, type FileHandle } from 'node:fs/promises';
import type { MemberInput } from '../compression/types.js';
import { RdError, EXIT } from '../errors.js';
import { track } from './progress.js';

const CHUNK = 1 << 20;

/**
 * Sequential reader over the image file with push-back, so a decoder can
 * return the bytes that follow its member. `offset` is the file position of
 * the next byte read() will hand out, which is what error messages report.
 */
export class FileSource implements MemberInput {
  private pending: Buffer[] = [];
  private pos = 0;
  private eof = false;
  offset = 0;
  readonly size: number;
  private untrack = () => {};

  /** File position where the source ends (a range of the file, e.g. a UKI section, ends before the file does). */
  private end: number;

  private constructor(
    private fh: FileHandle,
    readonly path: string,
    size: number,
    start = 0,
  ) {
    this.size = size;
    this.pos = this.offset = start;
    this.end = start + size;
  }

  /** The whole file, or `range` of it: offsets stay file offsets. */
  static async open(path: string, range?: { offset: number; length: number }): Promise<FileSource> {
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.code === 'EISDIR' ? 'is a directory' : err.message;
      throw new RdError(why, { file: path }, EXIT.badInput);
    }
    const st = await fh.stat();
    if (st.isDirectory()) {
      await fh.close();
      throw new RdError('is a directory, not an image', { file: path }, EXIT.badInput);
    }
    const src = range ? new FileSource(fh, path, range.length, range.offset) : new FileSource(fh, path, st.size);
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
    if (this.eof) return null;
    const want = Math.min(CHUNK, this.end - this.pos);
    const buf = Buffer.allocUnsafe(CHUNK);
    const { bytesRead } = want > 0 ? await this.fh.read(buf, 0, want, this.pos) : { bytesRead: 0 };
    if (bytesRead === 0) {
      this.eof = true;
      return null;
    }
    this.pos += bytesRead;
    this.offset += bytesRead;
    return bytesRead === CHUNK ? buf : buf.subarray(0, bytesRead);
  }

  skip(n: number): void {
    this.offset += n;
    while (n > 0 && this.pending.length) {
      const p = this.pending.pop()!;
      if (p.length > n) this.pending.push(p.subarray(n));
      n -= Math.min(n, p.length);
    }
    this.pos += n;
  }

  unread(rest: Buffer): void {
    if (rest.length === 0) return;
    this.pending.push(rest);
    this.offset -= rest.length;
  }

  async close(): Promise<void> {
    this.untrack();
    await this.fh.close();
  }
}

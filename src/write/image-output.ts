import { closeSync, constants, fstatSync, fsyncSync, lstatSync, openSync, realpathSync, renameSync, rmSync, statSync, writeSync, fchmodSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { encoderFor, type Compression, type Encoder } from '../compression/index.js';
import type { CpioFormat } from '../cpio/header.js';
import { writeArchive, type WriteEntry } from '../cpio/writer.js';
import { RdError, EXIT } from '../errors.js';
import { trackOutput } from '../image/progress.js';

/** GNU cpio's output block: dracut and mkinitramfs early archives end on it, and lsinitcpio assumes it. */
export const CPIO_BLOCK = 512;

/**
 * An image being written: bytes go to a fresh temporary file next to the
 * destination, which is renamed over it only once everything is written and
 * synced. A failure removes the temporary file, so the destination is either
 * untouched or complete (and `out` may be the image being read).
 */
export class ImageOutput {
  private fd: number;
  private readonly tmp: string;
  /** Bytes written so far. */
  offset = 0;
  private readonly untrack: () => void;

  /** The file actually replaced: an existing symlink (/initrd.img -> boot/initrd.img-…) is followed and kept. */
  readonly path: string;

  private constructor(path: string) {
    this.path = followLink(path);
    this.tmp = join(dirname(this.path), `.${basename(this.path)}.rdrescue-${process.pid}-${Date.now().toString(36)}`);
    try {
      this.fd = openSync(this.tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    } catch (e) {
      throw new RdError(`cannot write ${path}: ${(e as Error).message}`, {}, EXIT.failure);
    }
    this.untrack = trackOutput(this.path, this.fd);
  }

  /** Runs `fill` against a new output and commits it, or removes every trace on failure. */
  static async write<T>(path: string, fill: (o: ImageOutput) => Promise<T>): Promise<T> {
    const o = new ImageOutput(path);
    try {
      const r = await fill(o);
      o.commit();
      return r;
    } catch (e) {
      o.abort();
      throw e;
    }
  }

  write(b: Uint8Array): void {
    let off = 0;
    while (off < b.length) off += writeSync(this.fd, b, off, b.length - off);
    this.offset += b.length;
  }

  /** Zero bytes up to the next multiple of `n`. */
  padTo(n: number): void {
    const p = (n - (this.offset % n)) % n;
    if (p) this.write(Buffer.alloc(p));
  }

  async writeAll(chunks: AsyncIterable<Uint8Array>): Promise<void> {
    for await (const c of chunks) this.write(c);
  }

  /** Compressed output: a compressor program writes into the file itself (see EncodeOptions.fd), then the offset catches up. */
  async writeEncoded(encoder: Encoder, archive: AsyncIterable<Buffer>, level?: number): Promise<void> {
    await this.writeAll(encoder(archive, { level, fd: this.fd }));
    this.offset = fstatSync(this.fd).size;
  }

  private commit(): void {
    let mode = 0o644;
    try {
      // An image replaced in place keeps its permissions (boot images are often 0600).
      mode = statSync(this.path).mode & 0o7777;
    } catch {
      // new file
    }
    this.untrack();
    fchmodSync(this.fd, mode);
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = -1;
    renameSync(this.tmp, this.path);
    try {
      const d = openSync(dirname(this.path), constants.O_RDONLY | constants.O_DIRECTORY);
      fsyncSync(d);
      closeSync(d);
    } catch {
      // Directory fsync is best effort (not every file system allows it).
    }
  }

  private abort(): void {
    this.untrack();
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    rmSync(this.tmp, { force: true });
  }
}

function followLink(path: string): string {
  try {
    return lstatSync(path).isSymbolicLink() ? realpathSync(path) : path;
  } catch {
    // Missing (or a dangling link): written where asked.
    return path;
  }
}

export interface SegmentSpec {
  entries: AsyncIterable<WriteEntry> | Iterable<WriteEntry>;
  compress: Compression | 'none';
  level?: number;
  format?: CpioFormat;
}

/**
 * Appends one segment the way the kernel wants it: an uncompressed archive
 * starts 4-byte aligned (else "invalid magic at start of compressed archive")
 * and is padded to a 512-byte block after, as GNU cpio does; a compressed
 * member needs no alignment.
 */
export async function writeSegment(o: ImageOutput, spec: SegmentSpec): Promise<void> {
  const archive = writeArchive(spec.entries, spec.format ?? 'newc');
  if (spec.compress === 'none') {
    o.padTo(4);
    await o.writeAll(archive);
    o.padTo(CPIO_BLOCK);
    return;
  }
  await o.writeEncoded(encoderFor(spec.compress), archive, spec.level);
}

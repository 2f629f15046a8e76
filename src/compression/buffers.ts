/**
 * The read path's memory: one pool of equal chunk buffers. The image file is
 * read into them (src/image/file-source.ts), a decompressor program's fifo is
 * read into them (pipe.ts), and the cpio parser (src/cpio/byte-stream.ts)
 * gives each back once it has moved past it, so the next read reuses it.
 *
 * THE RULE: nothing on the read path allocates per chunk in the steady state.
 * Take chunk memory from here and give it back where its last reader is done
 * with it. Fresh memory costs a minor page fault per 4 KiB on first touch
 * (about 15 µs on the machines this runs on): the 146 MB of a distribution
 * image read into fresh 1 MiB buffers is 36,000 faults, half a second of
 * system time, where a few reused buffers cost a few hundred faults once.
 *
 * Giving back is for the last reader only: one that keeps no view of the
 * buffer afterwards, and whose own consumers were told so (Member.body:
 * "valid until the iteration moves on"). Whatever must live longer (names,
 * targets, file contents held by cat) is copied out. A buffer that is never
 * given back (a decoder that keeps its input, a consumer that stops early) is
 * simply garbage-collected: correctness never depends on the pool, only speed,
 * and `allocated` shows what a path costs (test/compression/buffers.test.ts).
 *
 * Not on the pool yet: the built-in TypeScript decoders, a program's
 * stdout pipe where no fifo can be made, and the input of decoders that keep
 * views of it (a program fed through its stdin).
 */

/** Bytes per chunk: a pipe gives at most 64 KiB per read, a file read more; both fill one of these. */
export const CHUNK = 512 * 1024;

/** Free buffers kept for reuse: the most a read path holds at once (read-ahead, sink, parser) with room to spare. */
const KEEP = 24;

export class ChunkPool {
  private free: Buffer[] = [];
  /** Every buffer this pool made (weakly: a buffer never given back is collected). */
  private readonly mine = new WeakSet<ArrayBuffer>();
  private readonly idle = new WeakSet<ArrayBuffer>();
  /** Buffers made so far: constant in a steady state. */
  allocated = 0;

  constructor(readonly size: number) {}

  /** A buffer of `size` bytes with unspecified contents, owned by the caller until given back. */
  take(): Buffer {
    const b = this.free.pop();
    if (b) {
      this.idle.delete(b.buffer as ArrayBuffer);
      return b;
    }
    this.allocated++;
    // Its own ArrayBuffer (never Node's shared 8 KiB pool), so a view of it identifies it.
    const fresh = Buffer.allocUnsafeSlow(this.size);
    this.mine.add(fresh.buffer as ArrayBuffer);
    return fresh;
  }

  /**
   * Hands back the buffer behind `view` (any part of it). Views of other
   * memory, and a buffer already given back, are ignored.
   */
  give(view: Uint8Array): void {
    const ab = view.buffer as ArrayBuffer;
    if (!this.mine.has(ab) || this.idle.has(ab) || this.free.length >= KEEP) return;
    this.idle.add(ab);
    this.free.push(Buffer.from(ab, 0, this.size));
  }
}

/** The pool every reader on the read path shares. */
export const chunks = new ChunkPool(CHUNK);

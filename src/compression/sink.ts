import { FormatError } from '../errors.js';
import { CHUNK } from './buffers.js';

/** Size of the chunks decoders yield: large enough to amortise per-chunk costs downstream; a pooled chunk. */
export const OUTPUT_CHUNK = CHUNK;

/**
 * Output a native decompressor (node:zlib, a program) may run ahead of the
 * consumer. Past it the producer is paused until the consumer takes, so a
 * member that expands a thousandfold still needs only a few MiB.
 */
export const HIGH_WATER = 8 * OUTPUT_CHUNK;

/**
 * Counts a member's output against the decompression-bomb limit and gathers
 * small pieces into chunks of about OUTPUT_CHUNK bytes.
 */
export class OutputSink {
  private parts: Buffer[] = [];
  private pending = 0;
  total = 0;
  /** Set once the output passed the limit: that error stands, whatever else fails after it. */
  overLimit?: FormatError;

  constructor(
    private readonly format: string,
    private readonly maxOutput: number = Infinity,
  ) {}

  /** Add output; the buffer must not be reused by the caller afterwards. */
  push(b: Uint8Array): void {
    if (b.length === 0) return;
    this.total += b.length;
    if (this.total > this.maxOutput) {
      throw (this.overLimit = new FormatError(`${this.format} member expands beyond the ${this.maxOutput}-byte output limit (decompression bomb guard)`));
    }
    this.parts.push(Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.length));
    this.pending += b.length;
  }

  get ready(): boolean {
    return this.pending >= OUTPUT_CHUNK;
  }

  /** The producer should stop until the next take(). */
  get full(): boolean {
    return this.pending >= HIGH_WATER;
  }

  /** Called after each take(): a paused producer resumes here. */
  onTake?: () => void;

  /** Everything gathered so far as one buffer (possibly empty). */
  take(): Buffer {
    const out = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.pending);
    this.parts = [];
    this.pending = 0;
    this.onTake?.();
    return out;
  }

  /**
   * Everything gathered, as the pieces that came in (no copy). For producers
   * whose pieces are already large (a pipe's 64 KiB reads, zlib's chunks):
   * gathering them would copy every byte once more.
   */
  *drain(): Generator<Buffer, void, undefined> {
    const parts = this.parts;
    this.parts = [];
    this.pending = 0;
    this.onTake?.();
    yield* parts;
  }
}

/**
 * A decoder's output gathered before it failed is handed on before the
 * error: the archive up to a cut or a corrupt block is intact, and the
 * parser salvages it.
 */
export async function* salvaged(sink: OutputSink, member: AsyncGenerator<Buffer, void, undefined>): AsyncGenerator<Buffer, void, undefined> {
  try {
    yield* member;
  } catch (e) {
    const rest = sink.take();
    if (rest.length) yield rest;
    throw e;
  }
}

/**
 * Backpressure between a native producer (a zlib stream, a program's stdout)
 * and the consumer: the producer is paused while the sink is full and resumes
 * at the next take(). Waiting code races its own event against whenOutput(),
 * so it returns to hand output on as soon as a chunk is ready (keeping the
 * consumer busy while the producer goes on) and never deadlocks on a paused
 * producer.
 */
export class OutputGate {
  paused = false;
  private waiting?: Promise<void>;
  private wake?: () => void;

  constructor(
    private readonly sink: OutputSink,
    private readonly producer: { pause(): unknown; resume(): unknown },
  ) {
    sink.onTake = () => {
      if (!this.paused) return;
      this.paused = false;
      producer.resume();
    };
  }

  /** Call after each push. */
  check(): void {
    if (!this.sink.ready) return;
    this.wake?.();
    this.wake = undefined;
    this.waiting = undefined;
    if (this.paused || !this.sink.full) return;
    this.paused = true;
    this.producer.pause();
  }

  /** Resolves once there is output to take: a chunk is ready or the producer is paused (at once if so). */
  whenOutput(): Promise<void> {
    if (this.paused || this.sink.ready) return Promise.resolve();
    this.waiting ??= new Promise<void>((r) => (this.wake = r));
    return this.waiting;
  }
}

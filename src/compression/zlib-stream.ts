import type { Transform } from 'node:stream';
import { FormatError } from '../errors.js';
import type { ByteSource } from './source.js';
import { OutputGate, OutputSink } from './sink.js';

/**
 * Drives a node:zlib decompression stream (inflateRaw, zstd) with bounded
 * memory: input goes in small slices so that one write cannot expand into
 * more than a few tens of MB, and output is handed on in OUTPUT_CHUNK pieces.
 */
export class ZlibDriver {
  private error: unknown;
  private ended = false;
  private fed = 0;
  private readonly gate: OutputGate;
  /** The write zlib has not finished consuming yet. */
  private inflight?: Promise<void>;
  private finished?: Promise<void>;
  private finishedFlag = false;

  constructor(
    private readonly stream: Transform & { bytesWritten: number },
    sink: OutputSink,
    onData?: (d: Buffer) => void,
  ) {
    this.gate = new OutputGate(sink, stream);
    stream.on('data', (d: Buffer) => {
      try {
        onData?.(d);
        sink.push(d);
      } catch (e) {
        this.error ??= e;
      }
      this.gate.check();
    });
    stream.on('error', (e) => {
      this.error ??= e;
    });
    stream.on('end', () => {
      this.ended = true;
    });
  }

  get done(): boolean {
    return this.ended;
  }

  /** Bytes written but not used (past the end of the compressed stream). */
  get unused(): number {
    return this.fed - this.stream.bytesWritten;
  }

  get busy(): boolean {
    return this.inflight !== undefined;
  }

  /**
   * Hands zlib a slice and waits until it has consumed it, or until the
   * output is ready for the consumer (then take, and settle()).
   */
  async write(slice: Buffer, describe: (e: unknown) => FormatError): Promise<void> {
    this.fed += slice.length;
    const written = new Promise<void>((resolve) => {
      // On a data error zlib emits 'error' and may never call the write callback.
      const done = () => {
        this.stream.off('error', done);
        this.stream.off('close', done);
        resolve();
      };
      this.stream.once('error', done);
      this.stream.once('close', done);
      this.stream.write(slice, done);
    });
    const p = written.then(() => {
      if (this.inflight === p) this.inflight = undefined;
    });
    this.inflight = p;
    await Promise.race([p, this.gate.whenOutput()]);
    this.check(describe);
  }

  /** Waits for the write in flight to be consumed, or for output to take. */
  async settle(describe: (e: unknown) => FormatError): Promise<void> {
    if (this.inflight) await Promise.race([this.inflight, this.gate.whenOutput()]);
    this.check(describe);
  }

  /**
   * Signals the end of input and waits for the decompressor to finish or
   * fail. Returns false when output is ready first: take it and call again.
   */
  async end(describe: (e: unknown) => FormatError): Promise<boolean> {
    if (!this.ended && this.error === undefined) {
      this.finished ??= new Promise<void>((resolve) => {
        const done = () => {
          this.finishedFlag = true;
          resolve();
        };
        this.stream.once('end', done);
        this.stream.once('error', done);
        this.stream.once('close', done);
        this.stream.end();
      });
      await Promise.race([this.finished, this.gate.whenOutput()]);
    }
    this.check(describe);
    return this.ended || this.finishedFlag || this.error !== undefined;
  }

  close(): void {
    this.stream.destroy();
  }

  private check(describe: (e: unknown) => FormatError): void {
    if (this.error === undefined) return;
    this.close();
    if (this.error instanceof FormatError) throw this.error;
    throw describe(this.error);
  }
}

/** Feed a zlib stream from the source until it reports its end; returns with the unused bytes given back to the source. */
export async function* pumpUntilEnd(
  src: ByteSource,
  driver: ZlibDriver,
  sink: OutputSink,
  slice: number,
  describe: (e: unknown, at: number) => FormatError,
): AsyncGenerator<Buffer, void, undefined> {
  try {
    let at = src.offset;
    while (!driver.done) {
      if (driver.busy) {
        await driver.settle((e) => describe(e, at));
      } else {
        if (src.available === 0 && !(await src.more())) {
          // No more input: zlib decides whether the stream was complete; a failure now means it was cut short.
          while (!(await driver.end(() => src.truncated()))) yield* sink.drain();
          if (!driver.done) throw src.truncated();
          break;
        }
        // zlib does not say where in a slice it failed: errors name the slice start.
        at = src.offset;
        const part = src.take(Math.min(slice, src.available));
        const sliceAt = at;
        await driver.write(part, (e) => describe(e, sliceAt));
      }
      if (sink.ready) yield* sink.drain();
    }
    src.rewind(driver.unused);
  } finally {
    driver.close();
  }
}

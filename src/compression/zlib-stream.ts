import type { Transform } from 'node:stream';
import { FormatError } from '../errors.js';
import type { ByteSource } from './source.js';
import { OutputSink } from './sink.js';

/**
 * Drives a node:zlib decompression stream (inflateRaw, zstd) with bounded
 * memory: input goes in small slices so that one write cannot expand into
 * more than a few tens of MB, and output is handed on in OUTPUT_CHUNK pieces.
 */
export class ZlibDriver {
  private error: unknown;
  private ended = false;
  private fed = 0;

  constructor(
    private readonly stream: Transform & { bytesWritten: number },
    sink: OutputSink,
    onData?: (d: Buffer) => void,
  ) {
    stream.on('data', (d: Buffer) => {
      try {
        onData?.(d);
        sink.push(d);
      } catch (e) {
        this.error ??= e;
      }
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

  async write(slice: Buffer, describe: (e: unknown) => FormatError): Promise<void> {
    this.fed += slice.length;
    await new Promise<void>((resolve) => {
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
    this.check(describe);
  }

  /** Signal the end of input and wait for the decompressor to finish or fail. */
  async end(describe: (e: unknown) => FormatError): Promise<void> {
    if (!this.ended && this.error === undefined) {
      await new Promise<void>((resolve) => {
        this.stream.once('end', resolve);
        this.stream.once('error', () => resolve());
        this.stream.once('close', resolve);
        this.stream.end();
      });
    }
    this.check(describe);
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
    while (!driver.done) {
      if (src.available === 0 && !(await src.more())) {
        // No more input: zlib decides whether the stream was complete; a failure now means it was cut short.
        await driver.end(() => src.truncated());
        if (!driver.done) throw src.truncated();
        break;
      }
      // zlib does not say where in a slice it failed: errors name the slice start.
      const at = src.offset;
      const part = src.take(Math.min(slice, src.available));
      await driver.write(part, (e) => describe(e, at));
      if (sink.ready) yield sink.take();
    }
    src.rewind(driver.unused);
  } finally {
    driver.close();
  }
}

import zlib from 'node:zlib';
import { FormatError } from '../errors.js';
import { chunks } from './buffers.js';
import type { OutputSink } from './sink.js';
import type { ByteSource } from './source.js';

/** What node:zlib's stream classes (inflate, Node 24's zstd) have underneath: lib/zlib.js drives it the same way in its *Sync functions. */
interface NativeHandle {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
}
type ZlibStream = zlib.Inflate & { _handle: NativeHandle; _writeState: Uint32Array; errored: Error | null };

const EMPTY = Buffer.alloc(0);

/**
 * A node:zlib decompressor that writes into pooled chunks (buffers.ts)
 * instead of fresh memory for each output buffer, which is what the stream
 * interface does: for 146 MB that was 36,000 page faults. The native handle
 * is driven synchronously, on this thread, one output chunk at a time, so it
 * produces only when the consumer asks: a member that expands a
 * thousandfold never holds more than a chunk or two.
 *
 * Works the same on Node 20 and 24 (inflate) and on Node 24's zstd.
 */
export class ZlibInto {
  private readonly handle: NativeHandle;
  private readonly state: Uint32Array;
  private out = chunks.take();
  private filled = 0;
  /** The compressed stream has ended; input after it was left alone. */
  ended = false;
  /** The last step filled the output chunk: zlib may have more. */
  private full = false;

  constructor(
    private readonly stream: zlib.Inflate,
    private readonly sink: OutputSink,
    private readonly onData?: (d: Buffer) => void,
  ) {
    const s = stream as ZlibStream;
    // A data error destroys the stream, whose 'error' event would come later and unheard: it is read from `errored`.
    stream.on('error', () => undefined);
    this.handle = s._handle;
    this.state = s._writeState;
  }

  /**
   * Decompresses from input[off, off + len) until the output chunk is full,
   * the input is used up or the stream ends; returns the bytes consumed.
   * A full chunk goes to the sink (sink.ready is then true: drain it).
   * Throws zlib's error as it is.
   */
  step(input: Buffer, off: number, len: number, flush: number = zlib.constants.Z_NO_FLUSH): number {
    const room = this.out.length - this.filled;
    this.handle.writeSync(flush, input, off, len, this.out, this.filled, room);
    const err = (this.stream as ZlibStream).errored;
    if (err) throw err;
    const [availOut, availIn] = [this.state[0]!, this.state[1]!];
    this.filled += room - availOut;
    this.full = availOut === 0;
    if (this.full) this.emit();
    // Output room left and input too: zlib wanted no more, its stream has ended.
    else if (availIn > 0) this.ended = true;
    return len - availIn;
  }

  /** Everything handed over so far is all there is: throws if the stream is incomplete; the last output goes to the sink. */
  finish(): void {
    do this.step(EMPTY, 0, 0, zlib.constants.Z_FINISH);
    while (this.full);
    this.ended = true;
    this.emit();
  }

  /** Hands the output chunk to the sink, full or not. */
  emit(): void {
    if (this.filled === 0) return;
    const piece = this.filled === this.out.length ? this.out : this.out.subarray(0, this.filled);
    this.onData?.(piece);
    this.sink.push(piece);
    this.out = chunks.take();
    this.filled = 0;
  }

  close(): void {
    // The chunk being filled never left this object.
    chunks.give(this.out);
    this.out = EMPTY;
    this.stream.close();
  }
}

/**
 * Decompresses from the source until the stream ends, handing output on
 * chunk by chunk; returns with the source just past the compressed stream.
 * Errors name the start of the input slice they happened in (zlib does not
 * say where in it).
 */
export async function* pumpUntilEnd(
  src: ByteSource,
  z: ZlibInto,
  sink: OutputSink,
  slice: number,
  describe: (e: unknown, at: number) => FormatError,
): AsyncGenerator<Buffer, void, undefined> {
  try {
    while (!z.ended) {
      if (src.available === 0 && !(await src.more())) {
        // No more input: zlib decides whether the stream was complete; a failure now means it was cut short.
        try {
          z.finish();
        } catch {
          throw src.truncated();
        }
        break;
      }
      const at = src.offset;
      const { buf, pos } = src.view();
      let used: number;
      try {
        used = z.step(buf, pos, Math.min(slice, src.available));
      } catch (e) {
        throw e instanceof FormatError ? e : describe(e, at);
      }
      src.skip(used);
      if (sink.ready) yield* sink.drain();
    }
    z.emit();
    yield* sink.drain();
  } catch (e) {
    // What was decoded before the damage goes to the sink, for a salvaging reader (sink.ts: salvaged).
    z.emit();
    throw e;
  } finally {
    z.close();
  }
}

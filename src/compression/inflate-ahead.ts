import zlib from 'node:zlib';
import type { FormatError } from '../errors.js';
import { chunks } from './buffers.js';
import type { OutputSink } from './sink.js';
import type { ByteSource } from './source.js';
import { InflateHandle } from './zlib-handle.js';

const EMPTY = Buffer.alloc(0);

export interface AheadOptions {
  /** Compressed bytes per step. */
  slice: number;
  /** Sees every output piece, in order, before the consumer does (the CRC). */
  onData?: (d: Buffer) => void;
  /** The error for zlib's failure in the step that started at member offset `at`. */
  describe: (e: unknown, at: number) => FormatError;
}

/**
 * Inflates raw deflate data from the source on libuv's thread pool while
 * this thread consumes what is done: a pipeline of two cores, where
 * inflating on this thread (ZlibInto) and writing out the files alternate.
 * Output fills pooled chunks; past the sink's high water the inflater waits
 * for the consumer, so a bomb never holds more than a few chunks. Returns
 * with the source just past the deflate stream; a failure leaves what was
 * decoded before it in the sink (salvage) and names the start of the step
 * it happened in.
 */
export async function* inflateAhead(src: ByteSource, sink: OutputSink, opts: AheadOptions): AsyncGenerator<Buffer, void, undefined> {
  const z = new InflateHandle();
  let out = chunks.take();
  let filled = 0;
  let failure: unknown;
  let done = false;
  let stopped = false;
  let wakeConsumer: (() => void) | undefined;
  let wakeProducer: (() => void) | undefined;
  /** Hands output on: the CRC and the consumer's wake-up run while zlib works on the next step. */
  const handOn = (piece: Buffer) => {
    opts.onData?.(piece);
    sink.push(piece);
    if (sink.ready) wakeConsumer?.();
  };
  /** The part of `out` filled so far, handed on; a fresh chunk takes its place. */
  const emit = (): Buffer | undefined => {
    if (filled === 0) return undefined;
    const piece = filled === out.length ? out : out.subarray(0, filled);
    out = chunks.take();
    filled = 0;
    return piece;
  };
  /** At the end: the full chunk not handed on yet, then what `out` holds. */
  const handOnRest = (full: Buffer | undefined) => {
    if (full) handOn(full);
    const last = emit();
    if (last) handOn(last);
  };
  /** While the consumer is behind by the sink's high water, wait. */
  const room = async () => {
    while (sink.full && !stopped) await new Promise<void>((r) => (wakeProducer = r));
  };
  /** Starts a step, hands on the previous step's full chunk meanwhile, and waits for the step. */
  const step = async (flush: number, input: Uint8Array, off: number, len: number, full: Buffer | undefined) => {
    const going = z.write(flush, input, off, len, out, filled);
    try {
      if (full) handOn(full);
    } finally {
      // Even when handing on failed (the output limit), no step may be left in flight.
      await going.catch(() => undefined);
    }
    return going;
  };

  const produce = async () => {
    let full: Buffer | undefined;
    try {
      while (!stopped) {
        if (src.available === 0 && !(await src.more())) {
          // No more input: zlib decides whether the stream was complete; a failure now means it was cut short.
          for (;;) {
            let made: number;
            try {
              ({ made } = await step(zlib.constants.Z_FINISH, EMPTY, 0, 0, full));
            } catch {
              full = undefined;
              throw sink.overLimit ?? src.truncated();
            }
            full = undefined;
            filled += made;
            if (stopped || filled < out.length) break;
            full = emit();
            await room();
          }
          break;
        }
        const at = src.offset;
        const { buf, pos } = src.view();
        const len = Math.min(opts.slice, src.available);
        let r: { made: number; used: number };
        try {
          r = await step(zlib.constants.Z_NO_FLUSH, buf, pos, len, full);
        } catch (e) {
          full = undefined;
          throw sink.overLimit ?? opts.describe(e, at);
        }
        full = undefined;
        if (stopped) return;
        src.skip(r.used);
        filled += r.made;
        if (filled === out.length) {
          full = emit();
          await room();
        }
        // Output room left and input too: the deflate stream has ended.
        else if (r.used < len) break;
      }
      if (!stopped) handOnRest(full);
    } catch (e) {
      failure = e;
      try {
        // What was decoded before the failure goes to the sink, for a salvaging reader.
        handOnRest(full);
      } catch {
        // The output limit, passed by the salvaged part: the first failure stands.
      }
    } finally {
      done = true;
      z.close();
      // The chunk being filled never left here; no step is in flight now.
      chunks.give(out);
      wakeConsumer?.();
    }
  };

  const producing = produce();
  try {
    for (;;) {
      if (sink.ready) {
        yield* sink.drain();
        wakeProducer?.();
        // The consumer may take a backlog without returning to the event loop, where a finished step must be
        // seen for the next to start: let it run between chunks.
        if (z.busy) await new Promise(setImmediate);
        continue;
      }
      if (done) break;
      await new Promise<void>((r) => (wakeConsumer = r));
    }
    await producing;
    if (failure) throw failure;
    yield* sink.drain();
  } finally {
    if (!done) {
      // The consumer stopped early: the step in flight ends, and nothing more starts.
      stopped = true;
      wakeProducer?.();
    }
  }
}

import zlib from 'node:zlib';
import type { FormatError } from '../errors.js';
import { finalTail, findBlockStart, MAX_HEADER_BYTES, noopHead } from './deflate-boundary.js';
import { OUTPUT_CHUNK, type OutputSink } from './sink.js';
import type { ByteSource } from './source.js';
import { pumpUntilEnd, ZlibDriver } from './zlib-stream.js';

/** Deflate's window: no copy reaches further back. */
const WINDOW = 32 * 1024;
/** Stands in for the unknown window while a chunk is decoded ahead of the one before it. */
const FAKE_WINDOW = Buffer.alloc(WINDOW);
/** A speculative chunk that expands beyond this is left to the streaming path (a bomb never sits in memory whole). */
const JOB_CAP = 64 * 2 ** 20;
/** Output buffer of a chunk job: large, so zlib's thread comes back to the main thread rarely. */
const JOB_OUT = 2 * 2 ** 20;
/** First compressed length re-decoded with the real window; grows fourfold until the outputs agree. */
const FIX_FIRST = 64 * 1024;

/**
 * Compressed bytes per chunk, and chunks decoded at once: two, since the
 * consumer needs a core too. A setting so tests can cut small inputs into
 * many chunks.
 */
export const inflateTuning = { chunk: 4 * 2 ** 20, jobs: 2 };

/** What the parallel path did, for tests and benchmarks: members, chunks taken from speculative jobs, fallbacks to streaming. */
export const inflateStats = { members: 0, chunks: 0, fallbacks: 0 };

/** Whether a member is worth cutting: at least two chunks of input are there to decode. */
export function parallelWorthwhile(src: ByteSource): Promise<boolean> {
  return src.fill(2 * inflateTuning.chunk + MAX_HEADER_BYTES);
}

interface JobResult {
  ok: boolean;
  pieces: Buffer[];
  total: number;
  /** Input bytes zlib used: fewer than given when the deflate stream ended inside. */
  consumed: number;
}

interface Chunk {
  /** Member bit offset of the chunk's first block. */
  start: number;
  /** Bit offset of the next chunk's first block candidate; undefined: the chunk runs to the end of the input. */
  end?: number;
  /** noopHead(): its last byte holds the start bit. */
  head: Buffer;
  body: Buffer;
  /** finalTail() at `end`. */
  tail?: Buffer;
  /** No block start was found ahead: from here on only streaming works. */
  stream?: true;
  result?: Promise<JobResult>;
  stop?: () => void;
}

function startJob(c: Chunk, dictionary: Buffer | undefined, cap: number): void {
  const z = zlib.createInflateRaw({ chunkSize: JOB_OUT, ...(dictionary ? { dictionary } : {}) });
  const pieces: Buffer[] = [];
  let total = 0;
  c.stop = () => z.destroy();
  c.result = new Promise<JobResult>((resolve) => {
    const fail = () => {
      z.destroy();
      resolve({ ok: false, pieces: [], total: 0, consumed: 0 });
    };
    z.on('data', (d: Buffer) => {
      total += d.length;
      if (total > cap) fail();
      else pieces.push(d);
    });
    z.on('error', fail);
    z.on('close', fail);
    z.on('end', () => resolve({ ok: true, pieces, total, consumed: z.bytesWritten }));
  });
  z.write(c.head);
  z.write(c.body);
  if (c.tail) z.write(c.tail);
  z.end();
}

function inputLength(c: Chunk): number {
  return c.head.length + c.body.length + (c.tail?.length ?? 0);
}

/** The first n bytes of a chunk's job input, as one buffer. */
function inputPrefix(c: Chunk, n: number): Buffer {
  const body = c.body.subarray(0, n - c.head.length);
  const parts = [c.head, body];
  if (c.tail && n > c.head.length + c.body.length) parts.push(c.tail);
  return Buffer.concat(parts);
}

/** Whether pieces (one stream of bytes) hold `want` at offset `at`. */
function equalAt(pieces: Buffer[], at: number, want: Buffer): boolean {
  let done = 0;
  for (const p of pieces) {
    if (done === want.length) break;
    if (at >= p.length) {
      at -= p.length;
      continue;
    }
    const n = Math.min(p.length - at, want.length - done);
    if (!p.subarray(at, at + n).equals(want.subarray(done, done + n))) return false;
    done += n;
    at = 0;
  }
  return done === want.length;
}

/** Overwrites the start of pieces with `data`. */
function writeStart(pieces: Buffer[], data: Buffer): void {
  let done = 0;
  for (const p of pieces) {
    if (done === data.length) break;
    done += data.copy(p, 0, done);
  }
}

/** The last (up to) WINDOW bytes of `before` followed by pieces. */
function lastWindow(before: Buffer | undefined, pieces: Buffer[]): Buffer {
  const parts: Buffer[] = [];
  let have = 0;
  for (let i = pieces.length - 1; i >= 0 && have < WINDOW; i--) {
    parts.unshift(pieces[i]!);
    have += pieces[i]!.length;
  }
  if (have < WINDOW && before) parts.unshift(before);
  const all = Buffer.concat(parts);
  return Buffer.from(all.subarray(Math.max(0, all.length - WINDOW)));
}

/**
 * Re-decodes the start of a speculative chunk with the real window, on a
 * growing prefix of its input, until the last WINDOW bytes agree with the
 * speculative output at the same place: every later byte is then exact,
 * since no copy reaches further back and the symbols never depended on the
 * window. False when zlib rejects the data with the real window.
 */
function fixUp(c: Chunk, r: JobResult, window: Buffer): boolean {
  const all = inputLength(c);
  for (let n = FIX_FIRST; ; n *= 4) {
    const whole = n >= all;
    let real: Buffer;
    try {
      real = zlib.inflateRawSync(inputPrefix(c, whole ? all : n), {
        ...(window.length ? { dictionary: window } : {}),
        finishFlush: zlib.constants.Z_SYNC_FLUSH,
        maxOutputLength: r.total + 1,
      });
    } catch {
      return false;
    }
    const L = real.length;
    if (whole ? L === r.total : L >= WINDOW && equalAt(r.pieces, L - WINDOW, real.subarray(L - WINDOW))) {
      writeStart(r.pieces, real);
      return true;
    }
    if (whole) return false;
  }
}

export interface ParallelOptions {
  /** Input slice of the streaming fallback. */
  slice: number;
  maxOutput?: number;
  corrupt: (e: unknown, at: number) => FormatError;
}

/**
 * Inflates the raw deflate data at the source position on two cores, the
 * rapidgzip way: the input is cut at block starts found by scanning (a
 * chunk's end is proven a real block start when zlib, decoding up to there,
 * finishes exactly on a synthetic final block put in its place), later
 * chunks are decoded ahead with a stand-in window and fixed up in order.
 * Anything unexpected hands the rest of the member to plain streaming
 * inflate from the last proven block start, so corrupt data fails as it
 * does there. Output goes through `sink` (the bomb guard); the source is
 * left on the first byte after the deflate data.
 */
export async function* inflateParallel(src: ByteSource, sink: OutputSink, opts: ParallelOptions): AsyncGenerator<Buffer, void, undefined> {
  const { chunk, jobs } = inflateTuning;
  const cap = Math.min(JOB_CAP, (opts.maxOutput ?? Infinity) + 1);
  const first = src.offset * 8;
  inflateStats.members++;

  const view = () => {
    const { buf, pos } = src.view();
    return { buf, base: src.offset - pos };
  };
  /** Buffers the input up to member offset `end`; false when it ends before. */
  const ensure = async (end: number): Promise<boolean> => {
    let v = view();
    if (v.base + v.buf.length >= end) return true;
    // Read well past what is needed: each fill copies what is still buffered.
    await src.fill(end - src.offset + 2 * chunk);
    v = view();
    return v.base + v.buf.length >= end;
  };
  const plan = async (start: number): Promise<Chunk> => {
    const k = Math.floor(start / 8);
    // Stored stretches (incompressible data) have no header to find: look further, up to a few chunks.
    for (let from = chunk; ; from *= 2) {
      const full = await ensure(k + 2 * from + MAX_HEADER_BYTES);
      const { buf, base } = view();
      const head = noopHead(start % 8, buf[k - base]!);
      if (!full) return { start, head, body: buf.subarray(k + 1 - base) };
      const e = findBlockStart(buf, (k + from - base) * 8, (k + 2 * from - base) * 8);
      if (e >= 0) {
        const ke = e >>> 3;
        return { start, end: base * 8 + e, head, body: buf.subarray(k + 1 - base, ke), tail: finalTail(e & 7, buf[ke]!) };
      }
      if (from >= 4 * chunk) return { start, head, body: Buffer.alloc(0), stream: true };
    }
  };

  const pending: Chunk[] = [];
  let next: number | undefined = first;
  const topUp = async () => {
    while (pending.length < jobs && next !== undefined) {
      const c = await plan(next);
      if (!c.stream) startJob(c, c.start === first ? undefined : FAKE_WINDOW, cap);
      pending.push(c);
      next = c.end;
    }
  };
  let window: Buffer | undefined;

  try {
    for (;;) {
      await topUp();
      const c = pending[0]!;
      const r = c.stream ? undefined : await c.result!;
      pending.shift();
      const k = Math.floor(c.start / 8);
      let memberEnd: number | undefined;
      let ok = r?.ok === true;
      if (r && ok && !(c.tail && r.consumed === inputLength(c))) {
        // The deflate stream ended inside the chunk: real only if none of the synthetic tail's bits were read.
        memberEnd = k + r.consumed - (c.head.length - 1);
        if (c.end !== undefined && memberEnd > Math.floor(c.end / 8)) ok = false;
      }
      if (ok && window && !fixUp(c, r!, window)) ok = false;
      if (!ok) {
        yield* stream(c.start, window);
        return;
      }
      if (memberEnd === undefined) await topUp();
      inflateStats.chunks++;
      for (const p of r!.pieces) {
        for (let at = 0; at < p.length; at += OUTPUT_CHUNK) {
          sink.push(p.subarray(at, at + OUTPUT_CHUNK));
          if (sink.ready) yield* sink.drain();
        }
      }
      yield* sink.drain();
      window = lastWindow(window, r!.pieces);
      if (memberEnd !== undefined) {
        src.take(memberEnd - src.offset);
        return;
      }
      src.take(Math.floor(c.end! / 8) - src.offset);
    }
  } finally {
    for (const c of pending) c.stop?.();
  }

  /** Plain streaming inflate from the proven block start `start` (the source is on its byte) to the member end. */
  async function* stream(start: number, dict: Buffer | undefined): AsyncGenerator<Buffer, void, undefined> {
    inflateStats.fallbacks++;
    for (const c of pending.splice(0)) c.stop?.();
    const at = src.offset;
    await src.need(1);
    const head = noopHead(start % 8, src.take(1)[0]!);
    const driver = new ZlibDriver(zlib.createInflateRaw({ chunkSize: OUTPUT_CHUNK, ...(dict?.length ? { dictionary: dict } : {}) }), sink);
    await driver.write(head, (e) => opts.corrupt(e, at));
    yield* pumpUntilEnd(src, driver, sink, opts.slice, opts.corrupt);
    yield* sink.drain();
  }
}

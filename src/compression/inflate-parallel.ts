import { availableParallelism, loadavg } from 'node:os';
import zlib from 'node:zlib';
import { FormatError } from '../errors.js';
import { finalTail, findBlockStart, MAX_HEADER_BYTES, noopHead } from './deflate-boundary.js';
import { OUTPUT_CHUNK, type OutputSink } from './sink.js';
import { ByteSource } from './source.js';
import type { MemberInput } from './types.js';
import { pumpUntilEnd, ZlibInto } from './zlib-stream.js';

/** Deflate's window: no copy reaches further back. */
const WINDOW = 32 * 1024;
/** Stands in for the unknown window while a chunk is decoded ahead of the one before it. */
const FAKE_WINDOW = Buffer.alloc(WINDOW);
/** A speculative chunk that expands beyond this is left to the streaming path (a bomb never sits in memory whole). */
const JOB_CAP = 64 * 2 ** 20;
/** Output buffer of a chunk job: large, so zlib's thread comes back to the main thread rarely. */
const JOB_OUT = 2 ** 20;
/** Compressed bytes of the first chunk; each next one is twice as long, up to inflateTuning.chunk. */
const FIRST_CHUNK = 512 * 1024;
/** Compressed bytes scanned for a block start before reading on. */
const SCAN_STEP = 256 * 1024;
/** Compressed bytes scanned from each of the places a chunk may end (then twice, four times as far). */
const SCAN_REACH = 256 * 1024;
/** First compressed length re-decoded with the real window; grows fourfold until the outputs agree. */
const FIX_FIRST = 64 * 1024;

/**
 * Compressed bytes per chunk, and chunks decoded at once: two, since the
 * consumer needs a core too. A setting so tests can cut small inputs into
 * many chunks.
 */
export const inflateTuning = { chunk: 4 * 2 ** 20, jobs: 2, onlyWithIdleCore: true };

/** What the parallel path did, for tests and benchmarks: members, chunks taken from speculative jobs, fallbacks to streaming. */
export const inflateStats = { members: 0, chunks: 0, fallbacks: 0 };

/**
 * Whether a member is worth cutting: at least two (first) chunks of input
 * are there to decode, and a core is idle to decode them on. On a busy
 * machine the second thread gains nothing and costs: ls of the gzip image
 * took 0.67 s of CPU, 41,000 page faults and 196 MB RSS on two threads
 * (fresh output memory per job), 0.46 s, 12,400 faults and 106 MB streaming
 * into pooled chunks (load average 20 on 2 cores).
 */
export async function parallelWorthwhile(src: ByteSource): Promise<boolean> {
  if (inflateTuning.onlyWithIdleCore && availableParallelism() - loadavg()[0]! < 1) return false;
  return src.fill(2 * Math.min(inflateTuning.chunk, FIRST_CHUNK) + MAX_HEADER_BYTES);
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
  /** The compressed bytes after the head's, as read (views). */
  body: Buffer[];
  /** finalTail() at `end`. */
  tail?: Buffer;
  /** No block start was found ahead: from here on only streaming works. */
  stream?: true;
  result?: Promise<JobResult>;
  stop?: () => void;
}

/**
 * The member's compressed bytes from the last proven block start on, kept
 * as the pieces they were read in. The source's single buffer would copy
 * every byte still held (the chunks in flight) on each refill.
 */
class Pieces {
  private bufs: Buffer[] = [];
  /** Member offset of each buffer. */
  private offs: number[] = [];
  /** Member offset just past the last buffer. */
  end: number;
  eof = false;

  constructor(private readonly src: ByteSource) {
    this.end = src.offset;
  }

  /** Reads up to member offset `to`; false when the input ends before. */
  async ensure(to: number): Promise<boolean> {
    while (this.end < to && !this.eof) {
      // Taking all that is buffered leaves the source empty, so its next read is one new piece, not a copy.
      if (this.src.available === 0 && !(await this.src.more())) {
        this.eof = true;
        break;
      }
      const piece = this.src.take(this.src.available);
      this.bufs.push(piece);
      this.offs.push(this.end);
      this.end += piece.length;
    }
    return this.end >= to;
  }

  /** Views of the bytes [from, to) (clipped to what was read). */
  views(from: number, to = this.end): Buffer[] {
    const out: Buffer[] = [];
    for (let i = 0; i < this.bufs.length; i++) {
      const o = this.offs[i]!;
      const b = this.bufs[i]!;
      if (o + b.length <= from || o >= to) continue;
      out.push(b.subarray(Math.max(0, from - o), Math.min(b.length, to - o)));
    }
    return out;
  }

  /** The bytes [from, to) in one buffer: a view when they lie in one piece. */
  span(from: number, to: number): Buffer {
    const v = this.views(from, to);
    return v.length === 1 ? v[0]! : Buffer.concat(v);
  }

  byte(at: number): number {
    return this.span(at, at + 1)[0]!;
  }

  /** Forgets the pieces that end before `at`. */
  drop(at: number): void {
    while (this.bufs.length > 1 && this.offs[1]! <= at) {
      this.bufs.shift();
      this.offs.shift();
    }
  }
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
  for (const b of c.body) z.write(b);
  if (c.tail) z.write(c.tail);
  z.end();
}

function inputLength(c: Chunk): number {
  return c.head.length + c.body.reduce((n, b) => n + b.length, 0) + (c.tail?.length ?? 0);
}

/** The first n bytes of a chunk's job input, as one buffer. */
function inputPrefix(c: Chunk, n: number): Buffer {
  const parts = [c.head];
  let have = c.head.length;
  for (const b of [...c.body, ...(c.tail ? [c.tail] : [])]) {
    if (have >= n) break;
    parts.push(b.subarray(0, n - have));
    have += Math.min(b.length, n - have);
  }
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
async function fixUp(c: Chunk, r: JobResult, window: Buffer): Promise<boolean> {
  const all = inputLength(c);
  for (let n = FIX_FIRST; ; n *= 4) {
    const whole = n >= all;
    let real: Buffer;
    try {
      // On the thread pool too: the main thread is the consumer's.
      real = await inflateRawAsync(inputPrefix(c, whole ? all : n), {
        ...(window.length ? { dictionary: window } : {}),
        finishFlush: zlib.constants.Z_SYNC_FLUSH,
        maxOutputLength: r.total + 1,
        chunkSize: JOB_OUT,
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

const inflateRawAsync = (input: Buffer, opts: zlib.ZlibOptions) =>
  new Promise<Buffer>((resolve, reject) => zlib.inflateRaw(input, opts, (err, out) => (err ? reject(err) : resolve(out))));

export interface ParallelOptions {
  /** Input slice of the streaming fallback. */
  slice: number;
  maxOutput?: number;
  corrupt: (e: unknown, at: number) => FormatError;
  /** Sees every output piece, in order (the CRC). */
  onData: (d: Buffer) => void;
}

/** The member's trailer and its offset. */
export interface Trailer {
  bytes: Buffer;
  at: number;
}

/**
 * Inflates the raw deflate data at the source position on two cores, the
 * rapidgzip way: the input is cut at block starts found by scanning (a
 * chunk's end is proven a real block start when zlib, decoding up to there,
 * finishes exactly on a synthetic final block put in its place), later
 * chunks are decoded ahead with a stand-in window and fixed up in order.
 * Anything unexpected hands the rest of the member to plain streaming
 * inflate from the last proven block start, so corrupt data fails as it
 * does there. Output goes through `sink` (the bomb guard). Returns the
 * 8-byte trailer; every byte after it is given back to `input` (the
 * source's buffer is left empty: its offsets no longer count).
 */
export async function* inflateParallel(src: ByteSource, input: MemberInput, sink: OutputSink, opts: ParallelOptions): AsyncGenerator<Buffer, Trailer, undefined> {
  const { chunk, jobs } = inflateTuning;
  const cap = Math.min(JOB_CAP, (opts.maxOutput ?? Infinity) + 1);
  const first = src.offset * 8;
  const data = new Pieces(src);
  inflateStats.members++;

  const plan = async (start: number, size: number): Promise<Chunk> => {
    const k = Math.floor(start / 8);
    await data.ensure(k + 1);
    const head = noopHead(start % 8, data.byte(k));
    const upTo = (end: number): Chunk => {
      const ke = Math.floor(end / 8);
      return { start, end, head, body: data.views(k + 1, ke), tail: finalTail(end % 8, data.byte(ke)) };
    };
    // Stored stretches (incompressible data) have no header to find: look further, up to a few chunks.
    for (let from = size; ; from *= 2) {
      // Block starts are usually some kB apart: the scan reads on in steps, and gives up after SCAN_REACH (it scans
      // about 15 MB/s, while stored data inflates at memory speed).
      const limit = k + from + Math.min(from, SCAN_REACH);
      for (let at = k + from; at < limit; at += SCAN_STEP) {
        const to = Math.min(at + SCAN_STEP, limit);
        if (!(await data.ensure(to + MAX_HEADER_BYTES))) {
          // The input ends within reach: what is left is cut in two if it is large, so the last job is not the longest.
          const half = Math.max(at, k + Math.floor((data.end - k) / 2));
          const e = data.end - k >= 2 * FIRST_CHUNK ? findBlockStart(data.span(half, data.end), 0, (data.end - half) * 8) : -1;
          return e >= 0 ? upTo(half * 8 + e) : { start, head, body: data.views(k + 1) };
        }
        const e = findBlockStart(data.span(at, to + MAX_HEADER_BYTES), 0, (to - at) * 8);
        if (e >= 0) return upTo(at * 8 + e);
      }
      if (from >= 4 * size) return { start, head, body: [], stream: true };
    }
  };

  const pending: Chunk[] = [];
  let next: number | undefined = first;
  let planned = 0;
  const launch = () => {
    for (const c of pending.slice(0, jobs)) if (!c.result && !c.stream) startJob(c, c.start === first ? undefined : FAKE_WINDOW, cap);
  };
  // One chunk more than runs is planned (read and scanned) ahead, so a job starts the moment another ends.
  const topUp = async () => {
    launch();
    while (pending.length <= jobs && next !== undefined) {
      // Small chunks first, so output (and the consumer's work) starts early.
      const c = await plan(next, Math.min(chunk, FIRST_CHUNK * 2 ** planned++));
      pending.push(c);
      next = c.end;
      launch();
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
      if (ok && window) {
        // The next job starts while this chunk is fixed up: the chunk after it is then already on its way.
        const planning = memberEnd === undefined ? topUp() : undefined;
        ok = await fixUp(c, r!, window);
        await planning;
      } else if (ok && memberEnd === undefined) await topUp();
      if (!ok) return yield* stream(c.start, window);
      inflateStats.chunks++;
      for (const p of r!.pieces) {
        for (let at = 0; at < p.length; at += OUTPUT_CHUNK) {
          const piece = p.subarray(at, at + OUTPUT_CHUNK);
          sink.push(piece);
          opts.onData(piece);
          if (!sink.ready) continue;
          yield* sink.drain();
          // The output is all in memory: a consumer could take it without ever returning to the event loop, and the
          // jobs, which need the main thread after each output buffer, would stall meanwhile.
          if (pending.length) await new Promise(setImmediate);
        }
      }
      yield* sink.drain();
      window = lastWindow(window, r!.pieces);
      if (memberEnd !== undefined) {
        if (!(await data.ensure(memberEnd + 8))) throw new FormatError('truncated gzip data', { offset: data.end });
        const bytes = Buffer.from(data.span(memberEnd, memberEnd + 8));
        handBack(data.views(memberEnd + 8));
        return { bytes, at: memberEnd };
      }
      data.drop(Math.floor(c.end! / 8));
    }
  } finally {
    for (const c of pending) c.stop?.();
  }

  function handBack(rest: Buffer[]): void {
    if (rest.length) input.unread(rest.length === 1 ? rest[0]! : Buffer.concat(rest));
  }

  /**
   * Plain streaming inflate from the proven block start `start` to the
   * member end: the bytes already read, then the rest of the input.
   */
  async function* stream(start: number, dict: Buffer | undefined): AsyncGenerator<Buffer, Trailer, undefined> {
    inflateStats.fallbacks++;
    for (const c of pending.splice(0)) c.stop?.();
    const k = Math.floor(start / 8);
    const held = data.views(k + 1);
    const rest = new ByteSource(
      {
        read: async () => held.shift() ?? ((src.available > 0 || (await src.more())) ? src.take(src.available) : null),
        unread: (b) => held.unshift(b),
      },
      'gzip',
    );
    // `rest` counts from byte k + 1.
    const base = k + 1;
    const z = new ZlibInto(zlib.createInflateRaw(dict?.length ? { dictionary: dict } : {}), sink, opts.onData);
    try {
      const head = noopHead(start % 8, data.byte(k));
      try {
        z.step(head, 0, head.length);
      } catch (e) {
        z.close();
        throw opts.corrupt(e, k);
      }
      yield* pumpUntilEnd(rest, z, sink, opts.slice, (e, at) => opts.corrupt(e, base + at));
      if (!(await rest.fill(8))) throw rest.truncated();
    } catch (e) {
      if (e instanceof FormatError && e.message === rest.truncated().message) throw new FormatError('truncated gzip data', { offset: base + e.where.offset! });
      throw e;
    }
    const at = base + rest.offset;
    const bytes = Buffer.from(rest.take(8));
    rest.finish();
    handBack(held);
    return { bytes, at };
  }
}

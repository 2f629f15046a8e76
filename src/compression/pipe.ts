import { spawn, spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants, mkdtempSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, delimiter, join } from 'node:path';
import { FormatError, RdError } from '../errors.js';
import { chunks } from './buffers.js';
import { OutputGate, type OutputSink } from './sink.js';
import type { ByteSource } from './source.js';
import type { FileOrigin } from './types.js';
import { trackReader } from '../image/progress.js';

const found = new Map<string, string | undefined>();

/** Where a program is on PATH (cached), or undefined. */
export function findProgram(name: string): string | undefined {
  if (!found.has(name)) {
    let hit: string | undefined;
    for (const dir of (process.env.PATH ?? '').split(delimiter)) {
      if (!dir) continue;
      try {
        accessSync(join(dir, name), constants.X_OK);
        hit = join(dir, name);
        break;
      } catch {
        // not here
      }
    }
    found.set(name, hit);
  }
  return found.get(name);
}

/** Stream a source through a Transform with backpressure, yielding its output. */
export async function* pipeThrough(t: NodeJS.ReadWriteStream, source: AsyncIterable<Buffer>): AsyncGenerator<Buffer, void, undefined> {
  let failed: unknown;
  const feeding = (async () => {
    try {
      for await (const chunk of source) {
        if (!t.write(chunk)) await new Promise((r) => t.once('drain', r));
      }
      t.end();
    } catch (e) {
      failed = e;
      (t as unknown as { destroy(e: unknown): void }).destroy(e as Error);
    }
  })();
  try {
    for await (const out of t as AsyncIterable<Buffer>) yield out;
  } catch (e) {
    throw failed ?? e;
  }
  await feeding;
  if (failed) throw failed;
}

/**
 * Stream a source through an external compressor (stdin → stdout), checking
 * that it exists and exits 0. `pkg` is the Debian package that provides it.
 * With `out` the program writes to that file itself and nothing is yielded.
 */
export async function* pipeProgram(
  program: string,
  args: string[],
  pkg: string,
  source: AsyncIterable<Buffer>,
  out?: number,
): AsyncGenerator<Buffer, void, undefined> {
  const child = spawn(program, args, { stdio: ['pipe', out ?? 'pipe', 'pipe'] });
  let spawnError: NodeJS.ErrnoException | undefined;
  const stderr: Buffer[] = [];
  child.stderr!.on('data', (d: Buffer) => stderr.push(d));
  const exited = new Promise<number | null>((resolve) => {
    child.on('error', (e) => {
      spawnError = e;
      resolve(null);
    });
    child.on('close', (code) => resolve(code));
  });
  // EPIPE when the program dies early: its exit status tells the story.
  child.stdin!.on('error', () => undefined);
  let feedError: unknown;
  const feeding = (async () => {
    try {
      for await (const chunk of source) {
        if (spawnError || child.stdin!.destroyed) return;
        if (!child.stdin!.write(chunk)) await Promise.race([new Promise((r) => child.stdin!.once('drain', r)), exited]);
      }
    } catch (e) {
      feedError = e;
      child.kill();
    } finally {
      child.stdin!.end();
    }
  })();
  let finished = false;
  try {
    try {
      if (child.stdout) for await (const chunk of child.stdout) yield chunk as Buffer;
      else await exited;
    } catch (e) {
      if (!spawnError) throw e;
    }
    finished = true;
  } finally {
    // Only a consumer that stopped early leaves the program running.
    if (!finished && child.exitCode === null && !spawnError) child.kill();
  }
  await feeding;
  const code = await exited;
  if (spawnError?.code === 'ENOENT') {
    throw new RdError(`${program} not found: install the Debian package "${pkg}" (apt-get install ${pkg}) to write this compression`);
  }
  if (spawnError) throw new RdError(`cannot run ${program}: ${spawnError.message}`);
  if (feedError) throw feedError;
  if (code !== 0) {
    const msg = Buffer.concat(stderr).toString('utf8').trim().split('\n')[0] ?? '';
    throw new RdError(`${program} ${args.join(' ')} failed with exit status ${code}${msg ? `: ${msg}` : ''}`);
  }
}

/** Where a decoder sends a member's exact compressed bytes. */
export interface Feed {
  /**
   * The next bytes of the member, in order, as pieces. Returns false when
   * they were not taken because output must be taken first: take it, then
   * write the same parts again.
   */
  write(parts: Buffer[]): Promise<boolean>;
  /**
   * No more input: wait for the decompressor to finish; throws if it failed.
   * Returns false when output is ready first (take, then call again).
   */
  end(): Promise<boolean>;
  close(): void;
  /** The program reads the whole member itself, so a failure cannot be placed more closely than the member. */
  readonly whole?: boolean;
  /** Only where the program reads the member itself: the next n bytes are its business, the walk need not read them. */
  skip?(n: number): void;
}

/** How a program gets its member: see programFeed. */
export interface ProgramReach {
  /** The member's place in the image file, when the input is a file. */
  origin?: FileOrigin;
  /** Its byte count when known before the walk, or 'stops-at-end' for a program that stops at its member's end by itself. */
  reach?: number | 'stops-at-end';
  /** Only when the program can read the member from the file itself (else undefined, for a faster in-process decoder). */
  direct?: boolean;
}

/**
 * A decompressor program on PATH (for speed only) fed exactly one member's
 * bytes, found by walking the format's framing. Its stdout goes to the sink.
 * Undefined when the program is not installed.
 *
 * When the member lies in a file, the program reads it itself: from the file
 * directly when the member starts the file and the program stops where the
 * member ends (at the file's end, or by itself); else through `dd`, at once
 * when `reach` says how far (its byte count, found before the walk, or
 * 'stops-at-end' for a program that stops at its member's end by itself),
 * else once the walk has found the member's length. Without dd there are two
 * process starts fewer and no copy of the member through a pipe (ls of the
 * zstd distribution image: about 10 ms). Feeding it from this
 * process instead puts every step of the program in lockstep with our event
 * loop, and halves its speed (zstd: 0.35-0.5 s against 0.18 s for the
 * distribution image).
 */
export function programFeed(program: string, args: string[], sink: OutputSink, how: ProgramReach = {}): Feed | undefined {
  const { origin, reach } = how;
  const path = findProgram(program);
  if (!path) return undefined;
  if (origin?.start === 0 && (reach === 'stops-at-end' || (reach !== undefined && reach === sizeOf(origin.path)))) {
    // The member is the file from its first byte to where the program stops: it reads the file itself, no dd between.
    const run = runProgram(path, args, sink, { file: origin.path });
    return { write: (parts) => run.write(parts), end: () => run.end(), close: () => run.close(), whole: true, skip: () => undefined };
  }
  const dd = origin && gnuDd();
  if (!origin || !dd) return how.direct ? undefined : runProgram(path, args, sink);
  /** dd copying the member from its first byte: `count` bytes, or to the end of the file. */
  const reader = (count?: number): ProgramInput => ({
    command: [
      dd,
      `if=${origin.path}`,
      'bs=1M',
      count === undefined ? 'iflag=skip_bytes' : 'iflag=skip_bytes,count_bytes',
      `skip=${origin.start}`,
      ...(count === undefined ? [] : [`count=${count}`]),
      'status=none',
    ],
    file: origin.path,
  });
  if (reach !== undefined) {
    // xz --single-stream starts reading from the member's start on, while the walk finds where the member ends.
    const run = runProgram(path, args, sink, reader(reach === 'stops-at-end' ? undefined : reach));
    return { write: (parts) => run.write(parts), end: () => run.end(), close: () => run.close(), whole: true, skip: () => undefined };
  }
  let length = 0;
  let run: Feed | undefined;
  return {
    write: async (parts) => {
      for (const p of parts) length += p.length;
      return true;
    },
    end: () => {
      run ??= runProgram(path, args, sink, reader(length));
      return run.end();
    },
    close: () => run?.close(),
    whole: true,
    skip: (n) => {
      length += n;
    },
  };
}

function sizeOf(path: string): number | undefined {
  try {
    return statSync(path).size;
  } catch {
    return undefined;
  }
}

/** Where a program reading its member itself gets it: `file` from its first byte, or the stdout of `command` (dd) reading `file`. */
interface ProgramInput {
  file: string;
  command?: string[];
}

let ddChecked: string | undefined | null = null;

/** GNU dd, which copies an exact byte range (iflag=skip_bytes,count_bytes); busybox's dd may not. */
function gnuDd(): string | undefined {
  if (ddChecked === null) {
    const dd = findProgram('dd');
    ddChecked = dd && spawnSync(dd, ['--version'], { encoding: 'utf8' }).stdout?.includes('coreutils') ? dd : undefined;
  }
  return ddChecked;
}

/**
 * Runs the program with its output going to the sink, fed either through
 * write() or, with `reader`, by the file itself or a command's stdout (a pipe
 * between the two processes); no backpressure is needed on the input side: the program can
 * only run ahead by the input in flight, and the gate pauses its output.
 *
 * A program that reads its input itself writes into a fifo that this process
 * reads synchronously into reused-size chunks. Reading the same bytes as
 * stream events costs 3-4x the CPU (146 MB: 0.1-0.18 s against 0.03 s), and
 * that CPU is taken from the decompressor (xz -T0 uses both cores). Blocking
 * is safe only there: nothing this process must write to the program waits
 * behind the read.
 */
function runProgram(path: string, args: string[], sink: OutputSink, reader?: ProgramInput): Feed {
  const program = basename(path);
  const command = reader?.command;
  const input = command && spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  const file = reader && !command ? openSync(reader.file, 'r') : undefined;
  const fifo = reader ? openFifo() : undefined;
  const child = spawn(path, args, { stdio: [input ? input.stdout! : (file ?? 'pipe'), fifo ? fifo.write : 'pipe', 'pipe'] });
  // Whoever reads the image (dd, or the program itself) does so on its fd 0: the progress display follows that position.
  const readerPid = input ? input.pid : file !== undefined ? child.pid : undefined;
  if (readerPid !== undefined) (input ?? child).once('exit', trackReader(reader!.file, readerPid));
  // The program has its own copies of the pipe's ends and the file; ours would only compete for the bytes or hold off EOF.
  input?.stdout!.destroy();
  if (file !== undefined) closeSync(file);
  if (fifo) closeSync(fifo.write);
  const stderr: Buffer[] = [];
  let failure: unknown;
  let gate: OutputGate | undefined;
  if (!fifo) {
    gate = new OutputGate(sink, child.stdout!);
    child.stdout!.on('data', (d: Buffer) => {
      try {
        sink.push(d);
      } catch (e) {
        failure ??= e;
        child.kill();
      }
      gate!.check();
    });
  }
  child.stderr!.on('data', (d: Buffer) => stderr.push(d));
  child.stdin?.on('error', (e) => {
    failure ??= e;
  });
  const inputStderr: Buffer[] = [];
  input?.stderr!.on('data', (d: Buffer) => inputStderr.push(d));
  const exitOf = (p: typeof child) =>
    new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      p.on('error', (e) => {
        failure ??= e;
        resolve({ code: null, signal: null });
      });
      p.on('close', (code, signal) => resolve({ code, signal }));
    });
  const inputExited = input ? exitOf(input) : Promise.resolve({ code: 0, signal: null });
  let readerFailed = false;
  const exited = Promise.all([exitOf(child), inputExited]).then(([prog, reader]) => {
    // The reader dies of SIGPIPE whenever the program stops before it (at its member's end, at corrupt
    // data): the program's status is the story. A reader failing by itself (a read error) explains a
    // program that then failed on short input.
    readerFailed = prog.code !== 0 && reader.code !== 0 && reader.signal !== 'SIGPIPE';
    return prog.code;
  });
  const fail = () => {
    if (failure instanceof FormatError) return failure;
    if (readerFailed) return new Error(Buffer.concat(inputStderr).toString('utf8').trim().split('\n')[0] || `${command![0]} failed`);
    const last = Buffer.concat(stderr).toString('utf8').trim().split('\n').pop() ?? '';
    // "/*stdin*\ : Data corruption detected", "xz: (stdin): Compressed data is corrupt", ...
    const msg = last.replace(/^(\S*\/)?(zstd|xz|lz4|lzop): /, '').replace(/^(\(stdin\)|\/\*stdin\*\\|<stdin>|stdin) ?: ?/, '');
    return new Error(msg || ((failure as Error | undefined)?.message ?? `${program} failed`));
  };
  /**
   * Reads the fifo until a chunk is ready for the consumer (true) or the
   * program has closed it (false). Without `wait`, stops where a read would
   * block. Reads fill one pooled chunk at a time (a pipe read returns at most
   * 64 KiB); the parser gives each back when done (buffers.ts).
   */
  let eof = false;
  let chunk = fifo ? chunks.take() : EMPTY;
  let filled = 0;
  /** The chunk being filled was never handed on: nobody else has it. */
  const release = () => {
    chunks.give(chunk);
    chunk = EMPTY;
  };
  const pull = (wait: boolean): boolean => {
    while (!eof && !sink.ready) {
      const n = readFifo(wait ? fifo!.read : fifo!.poll, chunk, filled);
      if (n === undefined) return false;
      filled += n;
      if (n === 0) eof = true;
      if (filled === chunk.length || (eof && filled > 0)) {
        sink.push(chunk.subarray(0, filled));
        chunk = eof ? EMPTY : chunks.take();
        filled = 0;
      }
    }
    if (eof) release();
    return !eof;
  };
  return {
    write: async (parts) => {
      if (failure) throw fail();
      if (reader) {
        // The program reads its input itself: meanwhile, take the output it has made, so it need not wait.
        if (fifo) pull(false);
        return true;
      }
      const stdin = child.stdin!;
      let more = true;
      stdin.cork();
      for (const p of parts) more = stdin.write(p);
      stdin.uncork();
      if (!more) {
        // A program blocked on a paused stdout stops reading stdin: return to let the consumer take.
        let drained!: () => void;
        const drain = new Promise<void>((r) => (drained = r));
        stdin.once('drain', drained);
        await Promise.race([drain, gate!.whenOutput()]);
        stdin.off('drain', drained);
      }
      if (failure) throw fail();
      return true;
    },
    end: async () => {
      if (child.stdin && !child.stdin.writableEnded) child.stdin.end();
      if (fifo && !eof) {
        // Chunks go out as they fill; past the consumer's reach the program blocks on the full fifo.
        if (pull(true)) return false;
        fifo.close();
      }
      const code = gate ? await Promise.race([exited, gate.whenOutput().then(() => 'output' as const)]) : await exited;
      if (code === 'output') return false;
      if (failure || code !== 0) throw fail();
      return true;
    },
    close: () => {
      fifo?.close();
      release();
      if (child.exitCode === null) child.kill();
      if (input && input.exitCode === null) input.kill();
    },
  };
}

const EMPTY = Buffer.alloc(0);

/** A pipe's read end twice (blocking, and not) and its write end, for a child's stdout. */
interface Fifo {
  read: number;
  poll: number;
  write: number;
  close(): void;
}

let mkfifo: string | undefined | null = null;

/**
 * Node has no pipe(2) to hand a child and read synchronously (a spawned
 * child's 'pipe' is a non-blocking socket), so a fifo is made with mkfifo(1)
 * in a private directory and unlinked at once. Undefined when that fails.
 */
function openFifo(): Fifo | undefined {
  if (mkfifo === null) mkfifo = findProgram('mkfifo');
  if (!mkfifo) return undefined;
  let dir: string | undefined;
  try {
    dir = mkdtempSync(join(tmpdir(), 'rdrescue-fifo-'));
    const at = join(dir, 'out');
    if (spawnSync(mkfifo, ['-m', '600', at], { stdio: 'ignore' }).status !== 0) return undefined;
    // Opening a fifo blocks until the other end is open, except a non-blocking read end; the write end
    // then opens at once, and a blocking read end too, as a writer exists.
    const poll = openSync(at, constants.O_RDONLY | constants.O_NONBLOCK);
    const write = openSync(at, constants.O_WRONLY);
    const read = openSync(at, constants.O_RDONLY);
    let open = true;
    return {
      read,
      poll,
      write,
      close: () => {
        if (!open) return;
        open = false;
        closeSync(read);
        closeSync(poll);
      },
    };
  } catch {
    return undefined;
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

/** Reads into buf at `at`: the byte count, 0 at the fifo's end, undefined when a non-blocking read would block. */
function readFifo(fd: number, buf: Buffer, at: number): number | undefined {
  try {
    return readSync(fd, buf, at, buf.length - at, null);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EAGAIN') return undefined;
    throw e;
  }
}

/** Compressed bytes handed to a program per write. */
const FEED_BATCH = 256 * 1024;

/**
 * Walks a member through a ByteSource while passing its exact bytes to a
 * decompressor program in batches; output is collected in the sink.
 */
export class Passer {
  private parts: Buffer[] = [];
  private len = 0;
  private batchStart: number;

  constructor(
    private readonly src: ByteSource,
    private readonly feed: Feed,
    private readonly sink: OutputSink,
  ) {
    this.batchStart = src.offset;
  }

  /** Consume n bytes of the member and pass them on; returns them (a view). */
  async take(n: number): Promise<Buffer> {
    await this.src.need(n);
    const b = this.src.take(n);
    this.parts.push(b);
    this.len += n;
    return b;
  }

  /**
   * Consume n bytes of the member without looking at them, passing them on
   * as they come; a program that reads the member itself gets nothing, and
   * the bytes are not read here at all (a seek in a file).
   */
  async *skip(n: number): AsyncGenerator<Buffer, void, undefined> {
    if (this.feed.skip) {
      this.feed.skip(n);
      await this.src.discard(n);
      if (this.sink.ready) yield* this.sink.drain();
      return;
    }
    while (n > 0) {
      const k = Math.min(n, FEED_BATCH);
      await this.src.pass(k, (piece) => {
        this.parts.push(piece);
        this.len += piece.length;
      });
      n -= k;
      yield* this.flushIfFull();
    }
  }

  /** Write the batch once it is large enough; yields output that is ready. */
  async *flushIfFull(): AsyncGenerator<Buffer, void, undefined> {
    if (this.len >= FEED_BATCH) yield* this.flush();
    if (this.sink.ready) yield* this.sink.drain();
  }

  async *end(): AsyncGenerator<Buffer, void, undefined> {
    yield* this.flush();
    while (
      !(await this.feed.end().catch((e) => {
        throw this.corrupt(e);
      }))
    ) {
      yield* this.sink.drain();
    }
    yield* this.sink.drain();
  }

  /** Runs a member's walk (which ends with end()) and closes the feed; a failed walk is salvaged first. */
  async *run(walk: AsyncGenerator<Buffer, void, undefined>): AsyncGenerator<Buffer, void, undefined> {
    try {
      yield* walk;
    } catch (e) {
      yield* this.salvage();
      throw e;
    } finally {
      this.close();
    }
  }

  /**
   * After the walk failed (the data is cut short or corrupt), the program
   * still gets every byte there is, and what it decodes from them is handed
   * on: salvage. Its own failure at the cut is expected; the walk's error is
   * the one to report.
   */
  private async *salvage(): AsyncGenerator<Buffer, void, undefined> {
    const rest = this.src.available ? this.src.take(this.src.available) : undefined;
    if (rest) {
      this.parts.push(rest);
      this.len += rest.length;
    }
    try {
      yield* this.end();
    } catch {
      yield* this.sink.drain();
      // The output limit was reached before the cut: that is the first damage.
      if (this.sink.overLimit) throw this.sink.overLimit;
    }
  }

  private close(): void {
    this.feed.close();
  }

  private async *flush(): AsyncGenerator<Buffer, void, undefined> {
    if (!this.len) return;
    const parts = this.parts;
    this.parts = [];
    this.len = 0;
    while (
      !(await this.feed.write(parts).catch((e) => {
        throw this.corrupt(e);
      }))
    ) {
      yield* this.sink.drain();
    }
    this.batchStart = this.src.offset;
  }

  private corrupt(e: unknown): FormatError {
    if (e instanceof FormatError) return e;
    const where = this.feed.whole ? ' in the member starting here' : '';
    return new FormatError(`corrupt ${this.src.format} data${where}: ${(e as Error).message}`, { offset: this.feed.whole ? 0 : this.batchStart });
  }
}

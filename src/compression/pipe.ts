import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { FormatError, RdError } from '../errors.js';
import { OutputGate, type OutputSink } from './sink.js';
import type { ByteSource } from './source.js';

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
 */
export async function* pipeProgram(
  program: string,
  args: string[],
  pkg: string,
  source: AsyncIterable<Buffer>,
): AsyncGenerator<Buffer, void, undefined> {
  const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let spawnError: NodeJS.ErrnoException | undefined;
  const stderr: Buffer[] = [];
  child.stderr.on('data', (d: Buffer) => stderr.push(d));
  const exited = new Promise<number | null>((resolve) => {
    child.on('error', (e) => {
      spawnError = e;
      resolve(null);
    });
    child.on('close', (code) => resolve(code));
  });
  // EPIPE when the program dies early: its exit status tells the story.
  child.stdin.on('error', () => undefined);
  let feedError: unknown;
  const feeding = (async () => {
    try {
      for await (const chunk of source) {
        if (spawnError || child.stdin.destroyed) return;
        if (!child.stdin.write(chunk)) await Promise.race([new Promise((r) => child.stdin.once('drain', r)), exited]);
      }
    } catch (e) {
      feedError = e;
      child.kill();
    } finally {
      child.stdin.end();
    }
  })();
  let finished = false;
  try {
    try {
      for await (const out of child.stdout) yield out as Buffer;
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
  write(part: Buffer): Promise<void>;
  /**
   * No more input: wait for the decompressor to finish; throws if it failed.
   * Returns false when the output paused first (take, then call again).
   */
  end(): Promise<boolean>;
  close(): void;
}

/**
 * A decompressor program on PATH (for speed only) fed exactly one member's
 * bytes, found by walking the format's framing. Its stdout goes to the sink;
 * no backpressure is needed there: the program can only run ahead by the
 * input in flight (one write plus the pipe buffer), and decoders write more
 * only after their consumer took the output. Undefined when not installed.
 */
export function programFeed(program: string, args: string[], sink: OutputSink): Feed | undefined {
  const path = findProgram(program);
  if (!path) return undefined;
  const child = spawn(path, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr: Buffer[] = [];
  let failure: unknown;
  const gate = new OutputGate(sink, child.stdout);
  child.stdout.on('data', (d: Buffer) => {
    try {
      sink.push(d);
    } catch (e) {
      failure ??= e;
      child.kill();
    }
    gate.check();
  });
  child.stderr.on('data', (d: Buffer) => stderr.push(d));
  child.stdin.on('error', (e) => {
    failure ??= e;
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on('error', (e) => {
      failure ??= e;
      resolve(null);
    });
    child.on('close', resolve);
  });
  const fail = () => {
    if (failure instanceof FormatError) return failure;
    const last = Buffer.concat(stderr).toString('utf8').trim().split('\n').pop() ?? '';
    // "/*stdin*\ : Data corruption detected", "xz: (stdin): Compressed data is corrupt", ...
    const msg = last.replace(/^(zstd|xz|lz4|lzop): /, '').replace(/^(\(stdin\)|\/\*stdin\*\\|<stdin>|stdin) ?: ?/, '');
    return new Error(msg || ((failure as Error | undefined)?.message ?? `${program} failed`));
  };
  return {
    write: async (part) => {
      if (failure) throw fail();
      // A program blocked on a paused stdout stops reading stdin: return to let the consumer take.
      if (!child.stdin.write(part)) await Promise.race([new Promise((r) => child.stdin.once('drain', r)), gate.whenPaused()]);
      if (failure) throw fail();
    },
    end: async () => {
      if (!child.stdin.writableEnded) child.stdin.end();
      const code = await Promise.race([exited, gate.whenPaused().then(() => 'paused' as const)]);
      if (code === 'paused') return false;
      if (failure || code !== 0) throw fail();
      return true;
    },
    close: () => {
      if (child.exitCode === null) child.kill();
    },
  };
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

  /** Write the batch once it is large enough; yields output that is ready. */
  async *flushIfFull(): AsyncGenerator<Buffer, void, undefined> {
    if (this.len >= FEED_BATCH) await this.flush();
    if (this.sink.ready) yield this.sink.take();
  }

  async *end(): AsyncGenerator<Buffer, void, undefined> {
    await this.flush();
    while (
      !(await this.feed.end().catch((e) => {
        throw this.corrupt(e);
      }))
    ) {
      yield this.sink.take();
    }
    yield* this.sink.takeChunks();
  }

  close(): void {
    this.feed.close();
  }

  private async flush(): Promise<void> {
    if (!this.len) return;
    const b = Buffer.concat(this.parts, this.len);
    this.parts = [];
    this.len = 0;
    await this.feed.write(b).catch((e) => {
      throw this.corrupt(e);
    });
    this.batchStart = this.src.offset;
  }

  private corrupt(e: unknown): FormatError {
    if (e instanceof FormatError) return e;
    return new FormatError(`corrupt ${this.src.format} data: ${(e as Error).message}`, { offset: this.batchStart });
  }
}

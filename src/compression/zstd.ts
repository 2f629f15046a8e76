import { spawn } from 'node:child_process';
import zlib from 'node:zlib';
import { Decompress } from 'fzstd';
import { FormatError } from '../errors.js';
import { findProgram, pipeProgram, pipeThrough } from './pipe.js';
import { OutputSink } from './sink.js';
import { ByteSource } from './source.js';
import type { Decoder, Encoder } from './types.js';
import { ZlibDriver } from './zlib-stream.js';

const MAX_BLOCK = 128 * 1024;
/** Blocks handed to the decompressor per call: each expands to at most 128 KiB, so a call yields at most 1 MiB. */
const BLOCKS_PER_WRITE = 8;

type ZstdZlib = typeof zlib & {
  createZstdDecompress?: () => zlib.Inflate;
  createZstdCompress?: (o?: { params?: Record<number, number> }) => zlib.Deflate;
  constants: typeof zlib.constants & { ZSTD_c_compressionLevel?: number; ZSTD_c_checksumFlag?: number };
};
const z = zlib as ZstdZlib;

/** node:zlib has zstd from Node 22.15 / 23.8 (the single executable's Node 24 has it; Node 20 does not). */
export const nativeZstd = typeof z.createZstdDecompress === 'function';

interface Sink {
  write(part: Buffer): Promise<void>;
  end(): Promise<void>;
  close(): void;
}

/**
 * One zstd frame. The frame's end is found by walking its header and block
 * headers (no decoding needed), so whatever follows (padding, another member)
 * is handed back exactly. Only the frame's bytes reach the decompressor:
 * node:zlib's zstd when present, else the zstd program when on PATH, else
 * (and always with `native: false`) fzstd.
 *
 * Skippable frames (magic 0x184D2A5?) are not part of a member: the kernel's
 * unzstd stops at the end of the first frame, and initramfs.c would then meet
 * the skippable frame's magic as unknown data. The caller sees them the same way.
 */
export const decodeZstd: Decoder = async function* (input, opts) {
  const src = new ByteSource(input, 'zstd');
  const sink = new OutputSink('zstd', opts.maxOutput);
  await src.need(5);
  const head = src.peek(5);
  if (head.readUInt32LE(0) !== 0xfd2fb528) throw new FormatError('not a zstd frame (bad magic)', { offset: 0 });
  const fhd = head[4]!;
  if (fhd & 0x08) throw new FormatError('zstd frame header has its reserved bit set', { offset: 4 });
  const fcsFlag = fhd >> 6;
  const single = (fhd >> 5) & 1;
  const hasChecksum = (fhd >> 2) & 1;
  const dictLen = [0, 1, 2, 4][fhd & 3]!;
  const fcsLen = fcsFlag === 0 ? single : [0, 2, 4, 8][fcsFlag]!;
  const headerLen = 5 + (single ? 0 : 1) + dictLen + fcsLen;
  await src.need(headerLen);

  const dec = opts.native === false ? fzstdSink(sink) : nativeZstd ? nativeSink(sink) : (programSink(sink) ?? fzstdSink(sink));
  const corrupt = (e: unknown, at: number) =>
    e instanceof FormatError ? e : new FormatError(`corrupt zstd data: ${(e as Error).message}`, { offset: at });
  try {
    let batch: Buffer[] = [src.take(headerLen)];
    let batchStart = 0;
    for (let last = false; !last; ) {
      const at = src.offset;
      await src.need(3);
      const bh = src.peek(3);
      const word = bh[0]! | (bh[1]! << 8) | (bh[2]! << 16);
      last = (word & 1) === 1;
      const type = (word >> 1) & 3;
      const size = word >>> 3;
      if (type === 3) throw new FormatError('reserved zstd block type', { offset: at });
      if (size > MAX_BLOCK) throw new FormatError(`zstd block size ${size} exceeds 128 KiB`, { offset: at });
      const len = 3 + (type === 1 ? 1 : size);
      await src.need(len);
      batch.push(src.take(len));
      if (last && hasChecksum) {
        await src.need(4);
        batch.push(src.take(4));
      }
      if (last || batch.length >= BLOCKS_PER_WRITE) {
        await dec.write(Buffer.concat(batch)).catch((e) => {
          throw corrupt(e, batchStart);
        });
        batch = [];
        batchStart = src.offset;
        if (sink.ready) yield sink.take();
      }
    }
    await dec.end().catch((e) => {
      throw corrupt(e, src.offset);
    });
  } finally {
    dec.close();
  }
  // The zstd program's output lags its input: what is left can be several chunks.
  yield* sink.takeChunks();
  src.finish();
};

function nativeSink(sink: OutputSink): Sink {
  const driver = new ZlibDriver(z.createZstdDecompress!() as unknown as ConstructorParameters<typeof ZlibDriver>[0], sink);
  const fail = (e: unknown) => (e instanceof FormatError ? e : new FormatError((e as Error).message));
  return {
    write: (part) => driver.write(part, fail),
    end: () => driver.end(fail),
    close: () => driver.close(),
  };
}

/**
 * On Node < 22.15 the zstd program, when on PATH, is the fast path (about 25x
 * fzstd on a distribution initramfs; same bytes): it gets exactly the frame's
 * bytes on stdin and checks the content checksum itself.
 */
function programSink(sink: OutputSink): Sink | undefined {
  // No backpressure on the program's stdout is needed: it can only run ahead by the
  // input in flight (one batch plus the pipe buffer), as the next batch is written
  // only after the decoder's consumer has taken the output.
  const path = findProgram('zstd');
  if (!path) return undefined;
  const child = spawn(path, ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr: Buffer[] = [];
  let failure: unknown;
  child.stdout.on('data', (d: Buffer) => {
    try {
      sink.push(d);
    } catch (e) {
      failure ??= e;
      child.kill();
    }
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
    const msg = Buffer.concat(stderr).toString('utf8').trim().split('\n').pop() ?? '';
    return new Error(msg.replace(/^zstd: /, '').replace(/^\/\*stdin\*\\ ?: ?/, '') || String((failure as Error)?.message ?? 'zstd failed'));
  };
  return {
    write: async (part) => {
      if (failure) throw fail();
      if (!child.stdin.write(part)) await new Promise((r) => child.stdin.once('drain', r));
      if (failure) throw fail();
    },
    end: async () => {
      child.stdin.end();
      const code = await exited;
      if (failure || code !== 0) throw fail();
    },
    close: () => {
      if (child.exitCode === null) child.kill();
    },
  };
}

function fzstdSink(sink: OutputSink): Sink {
  // fzstd does not verify the frame's content checksum; node:zlib's zstd does.
  const d = new Decompress((chunk) => sink.push(Buffer.from(chunk)));
  return {
    write: async (part) => {
      d.push(part);
    },
    end: async () => {
      d.push(new Uint8Array(0), true);
    },
    close: () => undefined,
  };
}

/** node:zlib's zstd where available, else the zstd program (Debian package zstd). */
export const encodeZstd: Encoder = async function* (source, opts) {
  const level = opts.level ?? 3;
  if (typeof z.createZstdCompress === 'function') {
    const c = z.constants;
    // The content checksum lets every reader (the kernel included) detect corruption, as the zstd program's default does.
    const params = { [c.ZSTD_c_compressionLevel ?? 100]: level, [c.ZSTD_c_checksumFlag ?? 201]: 1 };
    yield* pipeThrough(z.createZstdCompress({ params }), source);
  } else {
    yield* pipeProgram('zstd', ['-q', '-c', `-${level}`, '-T0'], 'zstd', source);
  }
};

import { decoderFor } from './index.js';
import type { Compression, DecodeOptions, MemberInput } from './types.js';

/**
 * Bytes already in memory (a kernel payload, the built-in initramfs of a
 * kernel) as a decoder's input or an image source. `offset` counts from the
 * buffer's start, as FileSource counts from the file's.
 */
export class BufferInput implements MemberInput {
  /** Buffer position of the next byte read() hands out; bytes given back are always the last ones handed out. */
  offset = 0;
  readonly size: number;

  constructor(private readonly bytes: Buffer) {
    this.size = bytes.length;
  }

  async read(): Promise<Buffer | null> {
    if (this.offset >= this.size) return null;
    const rest = this.bytes.subarray(this.offset);
    this.offset = this.size;
    return rest;
  }

  unread(rest: Buffer): void {
    this.offset -= rest.length;
  }

  skip(n: number): number {
    const there = Math.max(0, Math.min(n, this.size - this.offset));
    this.offset += n;
    return there;
  }

  async close(): Promise<void> {}
}

/** Decodes one member held in memory into one buffer (for data a few tens of MiB at most). */
export async function decodeBuffer(bytes: Buffer, compression: Compression, opts: DecodeOptions = {}): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of decoderFor(compression)(new BufferInput(bytes), opts)) chunks.push(c);
  return Buffer.concat(chunks);
}

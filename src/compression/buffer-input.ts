import { decoderFor } from './index.js';
import type { Compression, DecodeOptions, MemberInput } from './types.js';

/**
 * Bytes already in memory (a kernel payload, the built-in initramfs of a
 * kernel) as a decoder's input or an image source. `offset` counts from the
 * buffer's start, as FileSource counts from the file's.
 */
export class BufferInput implements MemberInput {
  private pending: Buffer[];
  offset = 0;
  readonly size: number;

  constructor(bytes: Buffer) {
    this.pending = bytes.length ? [bytes] : [];
    this.size = bytes.length;
  }

  async read(): Promise<Buffer | null> {
    const b = this.pending.pop() ?? null;
    if (b) this.offset += b.length;
    return b;
  }

  unread(rest: Buffer): void {
    if (!rest.length) return;
    this.pending.push(rest);
    this.offset -= rest.length;
  }

  skip(n: number): void {
    this.offset += n;
    while (n > 0 && this.pending.length) {
      const p = this.pending.pop()!;
      if (p.length > n) this.pending.push(p.subarray(n));
      n -= Math.min(n, p.length);
    }
  }

  async close(): Promise<void> {}
}

/** Decodes one member held in memory into one buffer (for data a few tens of MiB at most). */
export async function decodeBuffer(bytes: Buffer, compression: Compression, opts: DecodeOptions = {}): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of decoderFor(compression)(new BufferInput(bytes), opts)) chunks.push(c);
  return Buffer.concat(chunks);
}

import { decoderFor } from './index.js';
import type { Compression, DecodeOptions, MemberInput } from './types.js';

/** Compressed bytes already in memory (a kernel payload, a PE section) as a decoder's input. */
export class BufferInput implements MemberInput {
  private pending: Buffer[];

  constructor(bytes: Buffer) {
    this.pending = bytes.length ? [bytes] : [];
  }

  async read(): Promise<Buffer | null> {
    return this.pending.pop() ?? null;
  }

  unread(rest: Buffer): void {
    if (rest.length) this.pending.push(rest);
  }

  /** Bytes the decoder handed back after its member's end. */
  get rest(): number {
    return this.pending.reduce((a, b) => a + b.length, 0);
  }
}

/** Decodes one member held in memory into one buffer (for data a few tens of MiB at most). */
export async function decodeBuffer(bytes: Buffer, compression: Compression, opts: DecodeOptions = {}): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of decoderFor(compression)(new BufferInput(bytes), opts)) chunks.push(c);
  return Buffer.concat(chunks);
}

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Decoder, DecodeOptions, MemberInput } from '../../src/compression/types.js';

/** A MemberInput over a buffer, delivered in chunks of `chunk` bytes, recording what the decoder gives back. */
export class BufferInput implements MemberInput {
  private pos = 0;
  private pushedBack: Buffer[] = [];
  constructor(
    private readonly data: Buffer,
    private readonly chunk = 64 * 1024,
  ) {}
  async read(): Promise<Buffer | null> {
    const back = this.pushedBack.pop();
    if (back) return back;
    if (this.pos >= this.data.length) return null;
    const out = this.data.subarray(this.pos, this.pos + this.chunk);
    this.pos += out.length;
    return out;
  }
  unread(rest: Buffer): void {
    if (rest.length) this.pushedBack.push(Buffer.from(rest));
  }
  /** Everything not consumed by the decoder: given-back bytes, then the unread input. */
  remaining(): Buffer {
    return Buffer.concat([...this.pushedBack.slice().reverse(), this.data.subarray(this.pos)]);
  }
}

export interface DecodeResult {
  out: Buffer;
  rest: Buffer;
  chunks: number;
}

export async function decodeAll(dec: Decoder, data: Buffer, opts: DecodeOptions = {}, chunk?: number): Promise<DecodeResult> {
  const input = new BufferInput(data, chunk);
  const parts: Buffer[] = [];
  for await (const part of dec(input, opts)) parts.push(Buffer.from(part));
  return { out: Buffer.concat(parts), rest: input.remaining(), chunks: parts.length };
}

export function tool(cmd: string, args: string[], input: Buffer): Buffer {
  return execFileSync(cmd, args, { input, maxBuffer: 1 << 30 });
}

let sample: Buffer | undefined;
/** A few MB of realistic data: the start of the distribution initramfs's cpio, else system libraries. */
export function realisticData(bytes = 3_000_000): Buffer {
  if (!sample) {
    try {
      const img = execFileSync('sh', ['-c', 'ls /boot/initrd.img-* | head -n1'], { encoding: 'utf8' }).trim();
      sample = execFileSync('sh', ['-c', `zstd -dc '${img}' | head -c 8000000`], { maxBuffer: 1 << 28 });
    } catch {
      sample = Buffer.concat(['/usr/bin/bash', '/usr/lib/x86_64-linux-gnu/libc.so.6', '/usr/bin/perl'].map((f) => readFileSync(f)));
    }
  }
  return sample.subarray(0, bytes);
}

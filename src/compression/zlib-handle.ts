import zlib from 'node:zlib';

/**
 * The native inflate handle under node:zlib's streams, driven directly. The
 * stream classes take a fresh output buffer for every one they fill
 * (lib/zlib.js, processCallback): for the 146 MB of the gzip distribution
 * image that was 36,000 page faults. Driven here, zlib fills memory we own
 * (pooled chunks), on libuv's thread pool. init/write/close/onerror are the
 * calls lib/zlib.js itself makes, with the same arguments on Node 20 and 24.
 */
interface Native {
  init(windowBits: number, level: number, memLevel: number, strategy: number, state: Uint32Array, done: () => void, dictionary: undefined): void;
  write(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
  close(): void;
  onerror?: (message: string, errno: number) => void;
}

type NativeClass = new (mode: number) => Native;
let nativeClass: NativeClass | undefined;

/** A raw-deflate inflater whose steps run on the thread pool. */
export class InflateHandle {
  private readonly native: Native;
  private readonly state = new Uint32Array(2);
  private step?: { resolve: () => void; reject: (e: Error) => void };
  private closed = false;
  /** A write is on the thread pool. */
  busy = false;

  constructor() {
    if (!nativeClass) {
      const sample = zlib.createInflateRaw() as unknown as { _handle: object; close(): void };
      nativeClass = sample._handle.constructor as NativeClass;
      sample.close();
    }
    this.native = new nativeClass(zlib.constants.INFLATERAW);
    this.native.onerror = (message) => this.settle()?.reject(new Error(message));
    // Seven arguments, the dictionary too: node_zlib.cc checks the count and aborts the process otherwise.
    this.native.init(15, zlib.constants.Z_DEFAULT_COMPRESSION, 8, zlib.constants.Z_DEFAULT_STRATEGY, this.state, () => this.settle()?.resolve(), undefined);
  }

  private settle() {
    const s = this.step;
    this.step = undefined;
    this.busy = false;
    return s;
  }

  /**
   * Inflates input[off, off + len) into out[at, out.length). Resolves with
   * the bytes of output made and of input used once zlib has stopped: the
   * output is full, the input used up, or the deflate stream has ended
   * (room and input both left). Rejects with zlib's message.
   */
  async write(flush: number, input: Uint8Array, off: number, len: number, out: Uint8Array, at: number): Promise<{ made: number; used: number }> {
    const room = out.length - at;
    await new Promise<void>((resolve, reject) => {
      this.step = { resolve, reject };
      this.busy = true;
      this.native.write(flush, input, off, len, out, at, room);
    });
    return { made: room - this.state[0]!, used: len - this.state[1]! };
  }

  /** With a write in flight the handle closes once it is done (node_zlib.cc: pending_close_). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.native.close();
  }
}

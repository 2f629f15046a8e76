/** The compressions the kernel's initramfs unpacker accepts (init/initramfs.c, lib/decompress.c). */
export type Compression = 'gzip' | 'zstd' | 'xz' | 'lzma' | 'lz4' | 'bzip2' | 'lzo';

export const COMPRESSIONS: readonly Compression[] = ['gzip', 'zstd', 'xz', 'lzma', 'lz4', 'bzip2', 'lzo'];

/**
 * Compressed bytes of the image from the start of one member onwards.
 * A decoder reads what it needs and hands back (unread) whatever follows the
 * end of its member, so the caller can go on with the next segment exactly
 * where the kernel would.
 */
export interface MemberInput {
  /** The next chunk of input, or null at the end of the file. */
  read(): Promise<Buffer | null>;
  /** Give back bytes that were read but are not part of this member. */
  unread(rest: Buffer): void;
  /** Moves past the next n bytes without reading them (a file can; bytes given back come first); returns how many there were. */
  skip?(n: number): number;
  /** The image file and the file offset of the next byte read() returns, when the input is a file. */
  readonly path?: string;
  readonly offset?: number;
}

/** Where a member starts in the image file, when the input is one. */
export interface FileOrigin {
  path: string;
  start: number;
}

export interface DecodeOptions {
  /** Stop with an error once the member has produced more than this many bytes (decompression bomb guard). */
  maxOutput?: number;
  /** Use a native decompressor (node:zlib or a program on PATH) where that is faster; false forces the built-in decoder. */
  native?: boolean;
  /**
   * The consumer does heavy work of its own on each chunk (extract writes
   * files): decode on another thread, ahead of it, where the decoder can.
   * Otherwise a decoder on this thread is faster: each hand-over between
   * threads costs about 0.3 ms on the machines this runs on.
   */
  heavyConsumer?: boolean;
}

/**
 * Decodes exactly one compressed member, yielding its output in chunks.
 * Throws FormatError (with the offset relative to the member start) on corrupt
 * or truncated data.
 */
export type Decoder = (input: MemberInput, opts: DecodeOptions) => AsyncGenerator<Buffer, void, undefined>;

export interface EncodeOptions {
  level?: number;
  /**
   * A file open for writing at its end: an encoder that runs a program lets
   * the program write there itself (and yields nothing), instead of passing
   * every compressed byte back through this process.
   */
  fd?: number;
}

/** Compresses a stream of bytes into one member the kernel can unpack. */
export type Encoder = (source: AsyncIterable<Buffer>, opts: EncodeOptions) => AsyncGenerator<Buffer, void, undefined>;

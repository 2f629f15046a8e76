import { decodeBzip2, encodeBzip2 } from './bzip2.js';
import { decodeGzip, encodeGzip } from './gzip.js';
import { decodeLz4, encodeLz4 } from './lz4.js';
import { decodeLzma, encodeLzma } from './lzma.js';
import { decodeLzo, encodeLzo } from './lzo.js';
import type { Compression, Decoder, Encoder } from './types.js';
import { decodeXz, encodeXz } from './xz.js';
import { decodeZstd, encodeZstd, nativeZstd } from './zstd.js';

export type { Compression, Decoder, Encoder, DecodeOptions, EncodeOptions, MemberInput } from './types.js';
export { COMPRESSIONS } from './types.js';

const DECODERS: Record<Compression, Decoder> = {
  gzip: decodeGzip,
  zstd: decodeZstd,
  xz: decodeXz,
  lzma: decodeLzma,
  lz4: decodeLz4,
  bzip2: decodeBzip2,
  lzo: decodeLzo,
};

const ENCODERS: Record<Compression, Encoder> = {
  gzip: encodeGzip,
  zstd: encodeZstd,
  xz: encodeXz,
  lzma: encodeLzma,
  lz4: encodeLz4,
  bzip2: encodeBzip2,
  lzo: encodeLzo,
};

export function decoderFor(c: Compression): Decoder {
  return DECODERS[c];
}

export function encoderFor(c: Compression): Encoder {
  return ENCODERS[c];
}

export interface CodecInfo {
  /** How members are decoded: always possible built in; a faster native path is named where one is used when available. */
  decode: string;
  /** How members are written: built in, or the external program and the Debian package providing it. */
  encode: string;
  /** The external program an encoder needs, if any. */
  program?: string;
  debianPackage?: string;
}

/** Who does the work for each format (for the README and `--help`). */
export const CODECS: Record<Compression, CodecInfo> = {
  gzip: { decode: 'built in (node:zlib inflate; a large member on two cores)', encode: 'built in (node:zlib)' },
  zstd: {
    decode: 'built in (the zstd program reading the frame from the image itself if on PATH with GNU dd, for speed; else node:zlib zstd on Node >= 22.15; else fzstd in JavaScript)',
    // The program first: it uses every core; node:zlib's streaming zstd uses one.
    encode: nativeZstd ? 'external: zstd -T0 when on PATH, else built in (node:zlib zstd)' : 'external: zstd',
    ...(nativeZstd ? {} : { program: 'zstd', debianPackage: 'zstd' }),
  },
  xz: { decode: 'built in (LZMA2 decoder in TypeScript; the xz program if on PATH, for speed)', encode: 'external: xz --check=crc32 --lzma2=dict=1MiB', program: 'xz', debianPackage: 'xz-utils' },
  lzma: { decode: 'built in (LZMA decoder in TypeScript)', encode: 'external: xz --format=lzma', program: 'xz', debianPackage: 'xz-utils' },
  lz4: { decode: 'built in (legacy frame, TypeScript)', encode: 'built in (legacy frame, fast LZ4 compressor in TypeScript)' },
  bzip2: { decode: 'built in (TypeScript)', encode: 'external: bzip2', program: 'bzip2', debianPackage: 'bzip2' },
  lzo: { decode: 'built in (lzop container + LZO1X in TypeScript; the lzop program if on PATH, for speed)', encode: 'external: lzop', program: 'lzop', debianPackage: 'lzop' },
};

import { RdError } from '../errors.js';
import { decodeGzip, encodeGzip } from './gzip.js';
import type { Compression, Decoder, Encoder } from './types.js';
import { decodeZstd, encodeZstd } from './zstd.js';

export type { Compression, Decoder, Encoder, DecodeOptions, EncodeOptions, MemberInput } from './types.js';

const DECODERS: Partial<Record<Compression, Decoder>> = { gzip: decodeGzip, zstd: decodeZstd };
const ENCODERS: Partial<Record<Compression, Encoder>> = { gzip: encodeGzip, zstd: encodeZstd };

export function decoderFor(c: Compression): Decoder {
  const d = DECODERS[c];
  if (!d) throw new RdError(`${c} decoding is not available yet`);
  return d;
}

export function encoderFor(c: Compression): Encoder {
  const e = ENCODERS[c];
  if (!e) throw new RdError(`${c} encoding is not available yet`);
  return e;
}

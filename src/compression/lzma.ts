import { FormatError } from '../errors.js';
import { LzmaDataError, LzmaDecoder, TruncatedInput } from './lzma-core.js';
import { pipeProgram } from './pipe.js';
import { OutputSink, OUTPUT_CHUNK, salvaged } from './sink.js';
import { ByteSource } from './source.js';
import type { Decoder, Encoder, MemberInput } from './types.js';

/** Dictionaries above this are refused rather than allocated: a hostile header must not cost GBs of memory (lzma -9 and xz -9 use 64 MiB; the format allows 4 GiB). */
export const DICT_LIMIT = 256 << 20;
/** Input read ahead per decoding step: far more than REQUIRED_INPUT_MAX, so a step only pauses for input at its end. */
const READ_AHEAD = 256 * 1024;

/**
 * One legacy .lzma stream (LZMA_alone): 13-byte header (properties, dictionary
 * size, 64-bit uncompressed size or -1), then range-coded data. With a known
 * size the stream stops there (as the kernel's unlzma does); with -1 it must
 * end with the end-of-payload marker. The member ends where the encoder's
 * flushed range coder output ends. The format has no checksum.
 */
export const decodeLzma: Decoder = (input, opts) => {
  const sink = new OutputSink('lzma', opts.maxOutput);
  return salvaged(sink, lzmaMember(input, sink));
};

async function* lzmaMember(input: MemberInput, sink: OutputSink): AsyncGenerator<Buffer, void, undefined> {
  const src = new ByteSource(input, 'lzma');
  await src.need(13);
  const h = src.take(13);
  const props = h[0]!;
  const dictSize = h.readUInt32LE(1);
  const sizeLo = h.readUInt32LE(5);
  const sizeHi = h.readUInt32LE(9);
  const known = !(sizeLo === 0xffffffff && sizeHi === 0xffffffff);
  const size = sizeHi * 2 ** 32 + sizeLo;
  if (known && size > Number.MAX_SAFE_INTEGER) throw new FormatError('lzma header declares an impossible uncompressed size', { offset: 5 });
  if (props >= 225) throw new FormatError(`invalid lzma properties byte 0x${props.toString(16)}`, { offset: 0 });
  const bufSize = known ? Math.min(dictSize, size) : dictSize;
  if (bufSize > DICT_LIMIT) throw new FormatError(`lzma dictionary of ${dictSize} bytes exceeds the ${DICT_LIMIT}-byte limit`, { offset: 1 });
  const dec = new LzmaDecoder(bufSize);
  dec.setProps(props);
  dec.resetState();
  dec.resetDict();
  const corrupt = (e: unknown) => {
    if (e instanceof TruncatedInput) return src.truncated();
    if (e instanceof LzmaDataError) return new FormatError(`corrupt lzma data: ${e.message}`, { offset: src.offset });
    return e;
  };
  await src.need(5);
  let v = src.view();
  dec.setInput(v.buf, v.pos, v.pos + 5);
  try {
    dec.rcInit();
  } catch (e) {
    throw corrupt(e);
  }
  src.skip(5);
  while (!(known && dec.total === size) && !dec.endMarker) {
    const final = !(await src.fill(READ_AHEAD));
    v = src.view();
    dec.setInput(v.buf, v.pos, v.buf.length);
    const limit = known ? Math.min(size - dec.total, OUTPUT_CHUNK) : OUTPUT_CHUNK;
    try {
      dec.decode(limit, final);
    } catch (e) {
      // Every symbol decoded before the input ran out is right: salvage hands it on.
      if (e instanceof TruncatedInput) sink.push(dec.takeOutput());
      throw corrupt(e);
    } finally {
      src.skip(dec.inPos - v.pos);
    }
    sink.push(dec.takeOutput());
    if (sink.ready) yield sink.take();
  }
  if (known && dec.endMarker && dec.total !== size) {
    throw new FormatError(`lzma end marker after ${dec.total} bytes, header says ${size}`, { offset: src.offset });
  }
  await src.fill(1);
  v = src.view();
  dec.setInput(v.buf, v.pos, v.buf.length);
  const finished = dec.rcFinish();
  src.skip(dec.inPos - v.pos);
  if (!finished) throw new FormatError('corrupt lzma data: range coder does not end cleanly', { offset: src.offset });
  const rest = sink.take();
  if (rest.length) yield rest;
  src.finish();
}

/** The xz program's legacy format (Debian package xz-utils), which the kernel's unlzma reads. */
export const encodeLzma: Encoder = async function* (source, opts) {
  yield* pipeProgram('xz', ['--format=lzma', '-c', '-q', `-${opts.level ?? 6}`], 'xz-utils', source, opts.fd);
};

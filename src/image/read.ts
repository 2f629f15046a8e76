import { BufferInput } from '../compression/buffer-input.js';
import { decoderFor } from '../compression/index.js';
import { detectMagic, MAGIC_BYTES } from '../compression/detect.js';
import { OUTPUT_CHUNK } from '../compression/sink.js';
import { ByteStream } from '../cpio/byte-stream.js';
import type { Entry } from '../cpio/entry.js';
import { readArchive, type DamageHandler, type Locate } from '../cpio/reader.js';
import { FormatError, locate, located, RdError, type ErrorWhere } from '../errors.js';
import { openContainer, type Container, type ContainerOptions, type ImagePart } from './container.js';
import { foreignFormat } from './foreign-format.js';
import { FileSource } from './file-source.js';
import { ReadAhead } from './read-ahead.js';
import type { Segment } from './segment.js';

export interface ReadOptions extends ContainerOptions {
  /** Stop once the image has produced this many bytes of cpio data (decompression-bomb guard). */
  maxOutput?: number;
  /** Allow native decompressors where faster; false forces the built-in decoders. */
  native?: boolean;
  /** The caller does heavy work per entry (writing files): decompress ahead of it on another thread where possible. */
  heavyConsumer?: boolean;
  /** Check the data of every file in crc archives, also of files the command skips (else only files read whole are checked). */
  verify?: boolean;
  /**
   * Told of damage after which the rest still reads (a bad crc checksum), so
   * reading goes on. Without it, or with `strict`, the first damage throws.
   */
  onDamage?: (err: FormatError) => void;
  strict?: boolean;
  /** Also yield the entries the kernel skips (marked `skip`), for listings. */
  withSkipped?: boolean;
  /** The file's parts, when the caller has opened the container already (info reports it too). */
  container?: Container;
}

export type ImageEvent =
  | {
      kind: 'entry';
      segment: Segment;
      /** Ordinal of the cpio archive across the image; hard links never span archives. */
      archive: number;
      entry: Entry;
      rawName?: Buffer;
      /** Why the kernel creates nothing for this entry; only with `withSkipped`. */
      skip?: string;
      body(): AsyncGenerator<Buffer, void, undefined>;
    }
  /**
   * Sent once a segment is complete, with its final sizes and counts; also
   * for a damaged segment (with `damage`) right before the error is thrown.
   */
  | { kind: 'segment'; segment: Segment };

/**
 * Decoded bytes held ready ahead of a heavy consumer (extract): a few output
 * chunks, so the decoder's thread or process keeps working while files are
 * written. A light consumer (ls, cat, info) takes a chunk as soon as it is
 * made, so more ahead would only be fresh memory: one chunk. Ahead of ls of
 * the Debian zstd image, 4 MiB cost 900 more page faults than one chunk.
 */
const READ_AHEAD = { heavy: 8 * OUTPUT_CHUNK, light: OUTPUT_CHUNK };

/** Default bomb guard: far above any real initramfs, far below a full disk. */
export const DEFAULT_MAX_OUTPUT = 16 * 2 ** 30;

/**
 * Walks an image the way the kernel's unpack_to_rootfs() does: zero padding
 * is skipped, an uncompressed archive must start 4-byte aligned, anything else
 * must be a compressed member, and each decompressor says where its member
 * ended. Entries stream out in order; a consumer may read an entry's body
 * before asking for the next event.
 */
export async function* readImage(path: string, opts: ReadOptions = {}): AsyncGenerator<ImageEvent, Segment[], undefined> {
  const container = opts.container ?? (await openContainer(path, opts));
  const walk: Walk = { segments: [], budget: { left: opts.maxOutput ?? DEFAULT_MAX_OUTPUT }, archive: 0 };
  // The parts (a UKI's .ucode and .initrd, addons) are what the kernel gets concatenated: one image.
  for (const part of container.parts) yield* walkPart(part, walk, opts);
  if (walk.segments.length === 0) throw new FormatError(container.parts.every((p) => p.length === 0) ? 'empty file' : 'no archive: the file holds only zero bytes', { file: path });
  return walk.segments;
}

interface Walk {
  segments: Segment[];
  budget: { left: number };
  /** Archives seen so far, across parts. */
  archive: number;
}

async function* walkPart(part: ImagePart, walk: Walk, opts: ReadOptions): AsyncGenerator<ImageEvent, void, undefined> {
  const path = part.file;
  const src = part.bytes ? new BufferInput(part.bytes) : await FileSource.open(path, part);
  const { segments, budget } = walk;
  let archive = walk.archive;
  const damage = (where: ErrorWhere): DamageHandler | undefined => {
    const tell = opts.onDamage;
    if (opts.strict || !tell) return undefined;
    return (err) => tell(located(err, where));
  };
  try {
    let s = new ByteStream(src);
    s.offset = src.offset;
    for (;;) {
      let zeros = 0;
      for (;;) {
        if ((await s.ensure(1)) === 0) break;
        const { buf, pos } = s.view();
        let i = pos;
        while (i < buf.length && buf[i] === 0) i++;
        zeros += i - pos;
        s.advance(i - pos);
        if (i < buf.length) break;
      }
      const have = await s.ensure(MAGIC_BYTES);
      if (have === 0) break;
      const offset = s.offset;
      const { buf, pos } = s.view();
      const magic = detectMagic(buf.subarray(pos, pos + have));
      const index = segments.length;
      const where = { file: path, segment: index };
      const seg: Segment = { index, offset, storedBytes: 0, compression: 'none', archives: 0, entries: 0, uncompressedBytes: 0, paddingBefore: zeros, ...(part.label ? { source: part.label } : {}) };
      if (!magic) {
        const hex = buf.subarray(pos, pos + Math.min(have, 6)).toString('hex').replace(/(..)(?!$)/g, '$1 ');
        throw new FormatError(foreignFormat(buf.subarray(pos, pos + have)) ?? `unknown data (bytes ${hex}): neither a cpio archive nor a compressed member the kernel can unpack`, { ...where, offset });
      }
      if (magic.kind === 'odc') throw new FormatError('odc (070707) cpio archive: the kernel only unpacks newc (070701) and crc (070702)', { ...where, offset });
      if (magic.kind === 'cpio') {
        if (offset % 4 !== 0) throw new FormatError('cpio archive is not 4-byte aligned, so the kernel would reject it as "invalid magic"', { ...where, offset });
        // Known from the magic already: a segment cut before its trailer still says what it is.
        seg.format = magic.format;
        const fileLocate: Locate = (at) => ({ offset: at, suffix: '' });
        try {
          const it = readArchive(s, fileLocate, damage(where), opts);
          for (;;) {
            const r = await it.next();
            if (r.done) {
              seg.format = r.value.format;
              break;
            }
            seg.entries++;
            if (r.value.skip && !opts.withSkipped) continue;
            yield { kind: 'entry', segment: seg, archive, entry: r.value.entry, rawName: r.value.rawName, skip: r.value.skip, body: r.value.body };
          }
        } catch (e) {
          const err = located(e, where);
          seg.storedBytes = seg.uncompressedBytes = s.offset - offset;
          yield damaged(seg, err, seg.storedBytes);
          throw err;
        }
        archive++;
        seg.archives = 1;
        seg.storedBytes = s.offset - offset;
        seg.uncompressedBytes = seg.storedBytes;
        budget.left -= seg.storedBytes;
      } else {
        seg.compression = magic.compression;
        s.giveBack();
        const ahead = new ReadAhead(decoderFor(magic.compression)(src, { maxOutput: budget.left, native: opts.native, heavyConsumer: opts.heavyConsumer }), opts.heavyConsumer ? READ_AHEAD.heavy : READ_AHEAD.light);
        let produced = 0;
        const out = new ByteStream({
          read: async () => {
            let chunk;
            try {
              chunk = await ahead.read();
            } catch (e) {
              if (e instanceof RdError && e.where.offset !== undefined) locate(e, { ...where, offset: offset + e.where.offset }, true);
              locate(e, { ...where, offset });
            }
            if (chunk === null) return null;
            produced += chunk.length;
            return chunk;
          },
        });
        const memberLocate: Locate = (at) => ({ suffix: ` (at byte ${at} of the ${magic.compression} data starting at offset ${offset})` });
        let complete = false;
        try {
          for (;;) {
            // Inside a member the kernel allows zero padding between archives and nothing else.
            let n = await out.ensure(1);
            while (n > 0) {
              const v = out.view();
              let i = v.pos;
              while (i < v.buf.length && v.buf[i] === 0) i++;
              out.advance(i - v.pos);
              if (i < v.buf.length) break;
              n = await out.ensure(1);
            }
            if (n === 0) break;
            const v = out.view();
            if (v.buf[v.pos] !== 0x30) {
              throw new FormatError(`junk within compressed archive` + memberLocate(out.offset).suffix, { offset });
            }
            const it = readArchive(out, memberLocate, damage(where), opts);
            for (;;) {
              const r = await it.next();
              if (r.done) {
                seg.format ??= r.value.format;
                break;
              }
              seg.entries++;
              if (r.value.skip && !opts.withSkipped) continue;
              yield { kind: 'entry', segment: seg, archive, entry: r.value.entry, rawName: r.value.rawName, skip: r.value.skip, body: r.value.body };
            }
            archive++;
            seg.archives++;
          }
          complete = true;
        } catch (e) {
          const err = located(e, where);
          seg.uncompressedBytes = produced;
          seg.storedBytes = src.offset - offset;
          yield damaged(seg, err, out.offset);
          throw err;
        } finally {
          // After an error, or for a consumer that stopped early: stop the decoder and any program it runs.
          if (!complete) await ahead.close();
        }
        seg.uncompressedBytes = produced;
        budget.left -= produced;
        s = new ByteStream(src);
        s.offset = src.offset;
        seg.storedBytes = src.offset - offset;
      }
      segments.push(seg);
      yield { kind: 'segment', segment: seg };
    }
  } finally {
    walk.archive = archive;
    await src.close();
  }
}

/** Marks how far a segment could be read before `err`, for `info` and for a salvaging extract. */
function damaged(seg: Segment, err: unknown, cpioBytes: number): ImageEvent {
  const where = err instanceof RdError ? err.where : {};
  seg.damage = { offset: where.offset, message: err instanceof Error ? err.message : String(err), cpioBytes };
  return { kind: 'segment', segment: seg };
}

import { FormatError } from '../errors.js';
import type { ByteStream } from './byte-stream.js';
import { typeOfMode, type Entry } from './entry.js';
import { rawUnlessUtf8 } from './name-bytes.js';
import { dataSum, HEADER_SIZE, pad4, parseHeader, PATH_MAX, toEntry, TRAILER, type CpioFormat } from './header.js';

/**
 * Names this long are still read so listings can show them (as cpio does);
 * a longer name field can only be damage and is skipped unread.
 */
const MAX_SHOWN_NAME = 1 << 16;

export interface Member {
  entry: Entry;
  /** The stored name's bytes, present only when they are not valid UTF-8 (entry.name is then lossy). */
  rawName?: Buffer;
  /** Stream position of the header, for error messages. */
  offset: number;
  /**
   * Why the kernel creates nothing for this entry (init/initramfs.c
   * do_header() skips it whole). Listings still show it; its data is never
   * handed out.
   */
  skip?: string;
  /**
   * The entry's data. Valid until the iteration moves on; whatever is not
   * consumed is skipped (a seek in a file). In the crc format, data read
   * whole is checked; data skipped is checked only with `verify`.
   */
  body(): AsyncGenerator<Buffer, void, undefined>;
}

export interface ArchiveSummary {
  format: CpioFormat;
  entries: number;
}

/** How a stream position is described in errors: a file offset, or an offset into decompressed data. */
export type Locate = (streamOffset: number) => { offset?: number; suffix: string };

export interface ArchiveOptions {
  /** Read and check the data of every crc file, also where the caller skips it (a listing). */
  verify?: boolean;
  /** An entry of unknown type is an error instead of a skipped entry. */
  strict?: boolean;
}

/**
 * Damage after which the rest of the archive still reads correctly (a bad crc
 * checksum). The handler warns and returns to go on, or throws to stop; by
 * default it throws.
 */
export type DamageHandler = (err: FormatError) => void;
const stop: DamageHandler = (err) => {
  throw err;
};

/**
 * Reads one cpio archive (newc or crc) from `s`, up to and including its
 * TRAILER!!!, yielding members. Leaves `s` positioned after the trailer's
 * body and padding. Which entries exist, end the archive or are skipped
 * follows the kernel's do_header()/do_name()/do_symlink(), not cpio(1):
 * names and symlink targets end at their first NUL, a name field over
 * PATH_MAX is skipped, and only a regular file or a data-less entry named
 * TRAILER!!! ends the archive. Truncation and bad headers throw FormatError.
 */
export async function* readArchive(s: ByteStream, locate: Locate, damage: DamageHandler = stop, opts: ArchiveOptions = {}): AsyncGenerator<Member, ArchiveSummary, undefined> {
  let format: CpioFormat | undefined;
  let count = 0;
  const problem = (cause: string, at: number, entry?: string): FormatError => {
    const l = locate(at);
    return new FormatError(cause + l.suffix, { offset: l.offset, entry });
  };
  const fail = (cause: string, at: number, entry?: string): never => {
    throw problem(cause, at, entry);
  };
  for (;;) {
    const at = s.offset;
    if (!s.has(HEADER_SIZE) && (await s.ensure(HEADER_SIZE)) < HEADER_SIZE) fail('truncated cpio header (archive ends without TRAILER!!!)', at);
    let v = s.view();
    let h;
    try {
      h = parseHeader(v.buf, v.pos, at);
    } catch (e) {
      if (e instanceof FormatError) fail(e.message.replace(/^offset \d+: /, ''), at);
      throw e;
    }
    if (format === undefined) format = h.format;
    else if (format !== h.format) fail(`cpio format changes from ${format} to ${h.format} inside one archive`, at);
    const nameEnd = HEADER_SIZE + h.namesize;
    const headLen = nameEnd + pad4(nameEnd);
    if (h.namesize > MAX_SHOWN_NAME) {
      // Nothing to show: skip the whole entry as the kernel does, and say so.
      damage(problem(`name field of ${h.namesize} bytes skipped with its data, as the kernel does`, at));
      const left = headLen - HEADER_SIZE + h.filesize + pad4(h.filesize);
      if ((await s.skip(left)) < left) fail('truncated entry after an oversized name field', s.offset);
      continue;
    }
    if (!s.has(headLen) && (await s.ensure(headLen)) < nameEnd) fail('truncated cpio name', at);
    v = s.view();
    const field = v.buf.subarray(v.pos + HEADER_SIZE, v.pos + nameEnd);
    // C strings: the kernel stops at the first NUL (gen_init_cpio -a pads names with NULs to align data).
    const nul = field.indexOf(0);
    const raw = nul < 0 ? field : field.subarray(0, nul);
    const name = raw.toString('utf8');
    const rawName = rawUnlessUtf8(raw, name);
    if (nul < 0 && h.namesize > 0) damage(problem('name not terminated by a NUL (the kernel calls this a malformed archive)', at, name));
    s.advance(Math.min(headLen, s.buffered));
    let skip: string | undefined;
    const type = typeOfMode(h.mode);
    if (h.namesize === 0) skip = 'empty name field';
    else if (h.namesize > PATH_MAX) skip = `name of ${h.namesize - 1} bytes is longer than PATH_MAX`;
    else if (type === 'symlink') {
      if (h.filesize > PATH_MAX) skip = `symlink target of ${h.filesize} bytes is longer than PATH_MAX`;
    } else if (type === 'file' || h.filesize === 0) {
      // The real trailer has mode 0, an unknown type: the name decides first.
      if (name === TRAILER) {
        // The kernel skips whatever body the trailer claims before looking for the next archive.
        const left = h.filesize + pad4(h.filesize);
        if ((await s.skip(left)) < left) fail('truncated data after TRAILER!!!', s.offset);
        return { format, entries: count };
      }
    } else if (type !== 'unknown') skip = `a non-file entry carrying ${h.filesize} bytes of data`;
    if (type === 'unknown' && !skip) {
      // do_name() creates nothing for it; cpio warns "unknown file type" and goes on. Most likely a damaged mode field.
      const what = `unknown file type in mode ${h.mode.toString(8).padStart(6, '0')}`;
      if (opts.strict) fail(what, at, name);
      skip = h.filesize ? `${what}, with ${h.filesize} bytes of data` : what;
    }
    const entry = toEntry(h, name);
    count++;
    if (entry.type === 'symlink' && !skip) {
      const need = entry.size + pad4(entry.size);
      if (!s.has(entry.size) && (await s.ensure(entry.size)) < entry.size) fail(`truncated symlink target (needs ${entry.size} bytes)`, s.offset, name);
      const stored = s.take(entry.size);
      const end = stored.indexOf(0);
      // gen_init_cpio stores the target with its NUL; symlink(2) takes a C string.
      const t = end < 0 ? stored : stored.subarray(0, end);
      entry.target = t.toString('utf8');
      entry.rawTarget = rawUnlessUtf8(t, entry.target);
      if (!s.skipBuffered(need - entry.size)) await s.skip(need - entry.size);
      yield { entry, rawName, offset: at, body: empty };
      continue;
    }
    const state = { left: entry.size, sum: 0 };
    // GNU cpio and the kernel checksum regular files only.
    let crc = format === 'crc' && entry.type === 'file';
    yield {
      entry,
      rawName,
      offset: at,
      skip,
      body: skip
        ? empty
        : async function* () {
            for await (const chunk of s.body(state.left)) {
              state.left -= chunk.length;
              if (crc) state.sum = dataSum(chunk, state.sum);
              yield chunk;
            }
          },
    };
    if (state.left > 0) {
      // Data nobody reads is skipped unread (a seek in an uncompressed segment), unchecked unless asked.
      if (crc && opts.verify) {
        for await (const chunk of s.body(state.left)) {
          state.left -= chunk.length;
          state.sum = dataSum(chunk, state.sum);
        }
      } else {
        crc = false;
        if (s.skipBuffered(state.left)) state.left = 0;
        else state.left -= await s.skip(state.left);
      }
    }
    if (state.left > 0) fail(`truncated data: ${name} needs ${entry.size} bytes, ${state.left} missing`, s.offset, name);
    if (crc && state.sum >>> 0 !== entry.check >>> 0) {
      damage(problem(`crc checksum mismatch: header says ${entry.check.toString(16)}, data sums to ${(state.sum >>> 0).toString(16)}`, at, name));
    }
    const p = pad4(entry.size);
    if (!s.skipBuffered(p) && (await s.skip(p)) < p) fail('truncated padding after file data', s.offset, name);
  }
}

async function* empty(): AsyncGenerator<Buffer, void, undefined> {}

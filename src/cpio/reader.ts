import { FormatError } from '../errors.js';
import type { ByteStream } from './byte-stream.js';
import type { Entry } from './entry.js';
import { rawUnlessUtf8 } from './name-bytes.js';
import { dataSum, HEADER_SIZE, pad4, parseHeader, toEntry, TRAILER, type CpioFormat } from './header.js';

/** PATH_MAX: the kernel refuses longer symlink targets, and so do we. */
const MAX_TARGET = 4096;

export interface Member {
  entry: Entry;
  /** The stored name's bytes, present only when they are not valid UTF-8 (entry.name is then lossy). */
  rawName?: Buffer;
  /** Stream position of the header, for error messages. */
  offset: number;
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
}

/**
 * Reads one cpio archive (newc or crc) from `s`, up to and including its
 * TRAILER!!!, yielding members. Leaves `s` positioned after the trailer's
 * padding. Truncation and bad headers throw FormatError.
 */
export async function* readArchive(s: ByteStream, locate: Locate, opts: ArchiveOptions = {}): AsyncGenerator<Member, ArchiveSummary, undefined> {
  let format: CpioFormat | undefined;
  let count = 0;
  const fail = (cause: string, at: number, entry?: string): never => {
    const l = locate(at);
    throw new FormatError(cause + l.suffix, { offset: l.offset, entry });
  };
  for (;;) {
    const at = s.offset;
    if ((await s.ensure(HEADER_SIZE)) < HEADER_SIZE) fail('truncated cpio header (archive ends without TRAILER!!!)', at);
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
    if ((await s.ensure(headLen)) < nameEnd) fail('truncated cpio name', at);
    v = s.view();
    // namesize counts the terminating NUL
    const raw = v.buf.subarray(v.pos + HEADER_SIZE, v.pos + nameEnd - 1);
    const name = raw.toString('utf8');
    const rawName = rawUnlessUtf8(raw, name);
    s.advance(Math.min(headLen, s.buffered));
    if (name === TRAILER) {
      return { format, entries: count };
    }
    const entry = toEntry(h, name, at);
    count++;
    if (entry.type === 'symlink') {
      if (entry.size > MAX_TARGET) fail(`symlink target of ${entry.size} bytes exceeds PATH_MAX`, at, name);
      const need = entry.size + pad4(entry.size);
      if ((await s.ensure(entry.size)) < entry.size) fail(`truncated symlink target (needs ${entry.size} bytes)`, s.offset, name);
      const t = s.take(entry.size);
      entry.target = t.toString('utf8');
      entry.rawTarget = rawUnlessUtf8(t, entry.target);
      await s.skip(need - entry.size);
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
      body: async function* () {
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
        state.left -= await s.skip(state.left);
      }
    }
    if (state.left > 0) fail(`truncated data: ${name} needs ${entry.size} bytes, ${state.left} missing`, s.offset, name);
    if (crc) checkSum(state.sum, entry, at, fail);
    const p = pad4(entry.size);
    if (p && (await s.skip(p)) < p) fail('truncated padding after file data', s.offset, name);
  }
}

async function* empty(): AsyncGenerator<Buffer, void, undefined> {}

function checkSum(sum: number, e: Entry, at: number, fail: (c: string, at: number, n?: string) => never): void {
  const got = sum >>> 0;
  if (got !== e.check >>> 0) fail(`crc checksum mismatch: header says ${e.check.toString(16)}, data sums to ${got.toString(16)}`, at, e.name);
}

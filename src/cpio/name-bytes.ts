/**
 * Names and link targets in an archive, and on a host file system, are bytes,
 * not text. Text is used wherever the bytes are valid UTF-8 (nearly always);
 * the bytes themselves travel alongside only when they are not.
 */

/** A copy of `bytes` when decoding them as UTF-8 (`text`) would not give them back; else undefined. */
export function rawUnlessUtf8(bytes: Buffer, text: string): Buffer | undefined {
  // Invalid UTF-8 always decodes to U+FFFD (a lone 0xff gives one char for one byte: lengths prove nothing).
  return !text.includes('\uFFFD') || Buffer.from(text, 'utf8').equals(bytes) ? undefined : Buffer.from(bytes);
}

/** `dir/name` as bytes, for host paths whose names may not be UTF-8. */
export function joinBytes(dir: string | Buffer, name: Buffer): Buffer {
  return Buffer.concat([typeof dir === 'string' ? Buffer.from(dir) : dir, SLASH, name]);
}
const SLASH = Buffer.from('/');

/**
 * How blkid spells the identifiers on disk, so that what we print and match
 * is what the target's fstab and kernel command line say.
 */

/** A 16-byte UUID stored big-endian (ext, xfs, btrfs): 8-4-4-4-12 lowercase. */
export function uuidBigEndian(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** A GPT GUID: the first three fields little-endian. */
export function guidMixedEndian(b: Buffer): string {
  const le = Buffer.concat([Buffer.from(b.subarray(0, 4)).reverse(), Buffer.from(b.subarray(4, 6)).reverse(), Buffer.from(b.subarray(6, 8)).reverse(), b.subarray(8, 16)]);
  return uuidBigEndian(le);
}

export function isZero(b: Buffer): boolean {
  return b.every((x) => x === 0);
}

/** A fixed-size, NUL-padded label field. */
export function cString(b: Buffer): string {
  const end = b.indexOf(0);
  return b.subarray(0, end < 0 ? b.length : end).toString('utf8');
}

/**
 * Formats that look like an initramfs part but that the kernel cannot
 * unpack, named so the user learns what they have and what to do. odc cpio
 * is in the magic table itself, since it starts like newc.
 */
const FOREIGN: ReadonlyArray<readonly [bytes: readonly number[], what: string]> = [
  // lib/decompress_unlz4.c reads only the legacy format (magic 02 21 4c 18).
  [[0x04, 0x22, 0x4d, 0x18], 'an LZ4 frame (magic 04 22 4d 18): the kernel only unpacks the legacy LZ4 format; recompress with `lz4 -l`'],
  // 070707 in octal as a 16-bit word, either byte order: cpio -H bin.
  [[0xc7, 0x71], 'binary (old) cpio, which the kernel cannot unpack: it only unpacks newc (070701) and crc (070702); repack with `cpio -H newc`'],
  [[0x71, 0xc7], 'binary (old, big-endian) cpio, which the kernel cannot unpack: it only unpacks newc (070701) and crc (070702); repack with `cpio -H newc`'],
];

/** What `head` is, when it is a format the kernel refuses and a user may well have; else undefined. */
export function foreignFormat(head: Uint8Array): string | undefined {
  for (const [bytes, what] of FOREIGN) if (bytes.every((b, i) => head[i] === b)) return what;
  return undefined;
}

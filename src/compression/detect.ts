import type { Compression } from './types.js';

/** What a segment starts with. One table, as the kernel's decompress.c keeps one. */
export type Magic = { kind: 'cpio'; format: 'newc' | 'crc' } | { kind: 'odc' } | { kind: 'compressed'; compression: Compression };

const TABLE: ReadonlyArray<readonly [bytes: readonly number[], magic: Magic]> = [
  [[0x30, 0x37, 0x30, 0x37, 0x30, 0x31], { kind: 'cpio', format: 'newc' }], // "070701"
  [[0x30, 0x37, 0x30, 0x37, 0x30, 0x32], { kind: 'cpio', format: 'crc' }], // "070702"
  [[0x30, 0x37, 0x30, 0x37, 0x30, 0x37], { kind: 'odc' }], // "070707": not bootable, named in the error
  [[0x1f, 0x8b], { kind: 'compressed', compression: 'gzip' }],
  [[0x1f, 0x9e], { kind: 'compressed', compression: 'gzip' }], // old gzip, still accepted by the kernel
  [[0x28, 0xb5, 0x2f, 0xfd], { kind: 'compressed', compression: 'zstd' }],
  [[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], { kind: 'compressed', compression: 'xz' }],
  [[0x5d, 0x00, 0x00], { kind: 'compressed', compression: 'lzma' }],
  [[0x42, 0x5a, 0x68], { kind: 'compressed', compression: 'bzip2' }], // "BZh"
  [[0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a], { kind: 'compressed', compression: 'lzo' }],
  [[0x02, 0x21, 0x4c, 0x18], { kind: 'compressed', compression: 'lz4' }], // legacy frame (lz4 -l)
];

/** The longest magic in the table: read at least this many bytes before calling detect. */
export const MAGIC_BYTES = 9;

export function detectMagic(head: Uint8Array): Magic | undefined {
  for (const [bytes, magic] of TABLE) {
    if (head.length < bytes.length) continue;
    let ok = true;
    for (let i = 0; i < bytes.length; i++) {
      if (head[i] !== bytes[i]) {
        ok = false;
        break;
      }
    }
    if (ok) return magic;
  }
  return undefined;
}

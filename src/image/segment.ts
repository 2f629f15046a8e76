import type { Compression } from '../compression/types.js';
import type { CpioFormat } from '../cpio/header.js';

/** One physical part of an image: an uncompressed cpio archive or one compressed member. */
export interface Segment {
  index: number;
  /** File offset of the segment's first byte. */
  offset: number;
  /** Bytes the segment occupies in the file (compressed size for compressed members). */
  storedBytes: number;
  compression: Compression | 'none';
  /** Format of the cpio archive(s) inside; undefined if the member held no archive. */
  format?: CpioFormat;
  /** cpio archives inside (a compressed member may hold several). */
  archives: number;
  entries: number;
  /** Bytes of cpio data (the decompressed size for compressed members). */
  uncompressedBytes: number;
  /** Zero bytes skipped right before this segment. */
  paddingBefore: number;
  /**
   * Where reading stopped, when it did: the error, and how many bytes of cpio
   * data were read intact before it (`entries` counts the headers read).
   */
  damage?: { offset?: number; message: string; cpioBytes: number };
  /** Where the segment lies when the file is not a plain initramfs, e.g. "UKI .initrd" or an addon's section. */
  source?: string;
}

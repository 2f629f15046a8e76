import { closeSync, openSync, readSync } from 'node:fs';
import type { Segment } from './segment.js';

/** Names of the xz Check IDs (the .xz file format, section 2.1.1.2 and 3.4); the other IDs are reserved. */
const CHECK_NAMES: Record<number, string> = { 0: 'none', 1: 'CRC32', 4: 'CRC64', 10: 'SHA-256' };

/** Something in an image that rdrescue reads but the kernel would not boot as intended. */
export interface ImageWarning {
  segment: number;
  /** File offset the warning is about. */
  offset: number;
  message: string;
}

/** The Check ID in the stream flags of the xz stream that starts at `offset` (bytes 6-7 of the stream header), or undefined if there is none there. */
export function xzCheckId(file: string, offset: number): number | undefined {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(8);
    if (readSync(fd, b, 0, 8, offset) < 8) return undefined;
    if (!b.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return undefined;
    return b[7]! & 0x0f;
  } finally {
    closeSync(fd);
  }
}

/**
 * A warning for each xz segment whose check the kernel's initramfs decoder
 * refuses. Source of truth, Linux lib/xz/xz_dec_stream.c dec_stream_header():
 * only Check ID 0 (none) and 1 (CRC32) are accepted; any other ID returns
 * XZ_OPTIONS_ERROR, because XZ_DEC_ANY_CHECK (which would skip the check with
 * XZ_UNSUPPORTED_CHECK) is never defined in kernel builds (include/linux/xz.h:
 * "not used in the kernel") and the kernel has no CRC64 (XZ_USE_CRC64 is
 * userspace only). lib/decompress_unxz.c turns XZ_OPTIONS_ERROR into "Input
 * was encoded with settings that are not supported by this XZ decoder";
 * init/initramfs.c unpack_to_rootfs() stops at that member with this message,
 * keeping what earlier members unpacked, and do_populate_rootfs() logs
 * "Initramfs unpacking failed: <message>" (kernels without CONFIG_BLK_DEV_RAM=y,
 * as Debian's) and boots on. The xz program's default is CRC64, which is why
 * mkinitramfs (initramfs-tools) and dracut both run `xz --check=crc32`.
 */
export function xzCheckWarnings(file: string, segments: Segment[]): ImageWarning[] {
  const out: ImageWarning[] = [];
  for (const s of segments) {
    if (s.compression !== 'xz') continue;
    const id = xzCheckId(file, s.offset);
    if (id === undefined || id <= 1) continue;
    const last = segments.length - 1;
    const later = s.index === last ? '' : s.index + 1 === last ? ` and of segment ${last} after it` : ` and of segments ${s.index + 1}-${last} after it`;
    out.push({
      segment: s.index,
      offset: s.offset + 7,
      message:
        `segment ${s.index} (xz at offset ${s.offset}) uses the ${CHECK_NAMES[id] ?? `reserved ${id}`} check (Check ID ${id}); ` +
        `the kernel's xz decoder accepts only none and CRC32: it stops with "Input was encoded with settings that are not supported by this XZ decoder", ` +
        `logs "Initramfs unpacking failed", and boots without the files of this segment${later}; recompress it with xz --check=crc32`,
    });
  }
  return out;
}

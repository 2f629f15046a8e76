/**
 * The x86 bzImage: the kernel as boot loaders load it (/boot/vmlinuz-*, the
 * `.linux` section of a UKI). Read from the setup header the boot protocol
 * defines (Documentation/arch/x86/boot.rst), never by running anything.
 *
 * Stable API (the `check` command uses it):
 * - `readBzImageHeader(path)` / `parseBzImageHeader(bytes, file)` → BzImageHeader:
 *   protocol, the kernel_version string and its release, setup size, and the
 *   compressed payload (file offset, length, compression).
 * - `bzImageVmlinux(path)` / `decompressVmlinux(bytes, header)` → the
 *   decompressed kernel (an ELF vmlinux on x86), with the project's decoders.
 * - `embeddedConfig(vmlinux, file)` (src/kernel/ikconfig.ts) → the kernel's
 *   .config when built with CONFIG_IKCONFIG; `locateBuiltinInitramfs(vmlinux)`
 *   (src/kernel/vmlinux.ts) → its built-in initramfs.
 * Errors are FormatErrors naming the file and offset.
 */
import { readFile } from 'node:fs/promises';
import { decodeBuffer } from '../compression/buffer-input.js';
import { detectMagic } from '../compression/detect.js';
import type { Compression, DecodeOptions } from '../compression/types.js';
import { FormatError, locate, openFailure, RdError } from '../errors.js';

export interface BzImageHeader {
  file: string;
  /** Boot protocol version, e.g. "2.15". */
  protocol: string;
  /** The kernel_version string, e.g. "6.1.0-57-amd64 (debian-kernel@lists.debian.org) #1 SMP ...". */
  version?: string;
  /** Its first word: the release `uname -r` prints and /lib/modules is named after. */
  release?: string;
  /** 512-byte setup sectors after the boot sector (0 in the header means 4). */
  setupSects: number;
  /** File offset of the protected-mode kernel: (setup_sects + 1) * 512. */
  kernelOffset: number;
  /** File offset of the compressed kernel (protocol 2.08+: kernelOffset + payload_offset). */
  payloadOffset?: number;
  payloadLength?: number;
  /** What the payload starts with; undefined when the magic is unknown (or no payload fields). */
  payloadCompression?: Compression;
}

const HDRS = 0x53726448; // "HdrS"

/** True when the bytes start like a bzImage (boot flag and "HdrS" at their places). */
export function isBzImage(head: Buffer): boolean {
  return head.length >= 0x206 && head.readUInt16LE(0x1fe) === 0xaa55 && head.readUInt32LE(0x202) === HDRS;
}

export function parseBzImageHeader(bytes: Buffer, file: string): BzImageHeader {
  if (!isBzImage(bytes)) throw new FormatError('not a Linux kernel image (no "HdrS" setup header at offset 0x202)', { file, offset: 0x202 });
  const proto = bytes.readUInt16LE(0x206);
  const setupSects = bytes[0x1f1] || 4;
  const kernelOffset = (setupSects + 1) * 512;
  const h: BzImageHeader = { file, protocol: `${proto >> 8}.${String(proto & 0xff).padStart(2, '0')}`, setupSects, kernelOffset };
  const kv = bytes.readUInt16LE(0x20e);
  if (kv) {
    const at = 0x200 + kv;
    const end = bytes.indexOf(0, at);
    if (end > at && end - at < 512) {
      h.version = bytes.toString('latin1', at, end);
      h.release = h.version.split(' ')[0];
    }
  }
  if (proto >= 0x208) {
    if (bytes.length < 0x250) throw new FormatError('truncated kernel image: the setup header ends early', { file, offset: bytes.length });
    const off = kernelOffset + bytes.readUInt32LE(0x248);
    const len = bytes.readUInt32LE(0x24c);
    if (off + len > bytes.length) throw new FormatError(`truncated kernel image: the compressed kernel (${len} bytes at offset ${off}) ends past the end of the file (${bytes.length} bytes)`, { file, offset: off });
    h.payloadOffset = off;
    h.payloadLength = len;
    const m = detectMagic(bytes.subarray(off, off + 16));
    if (m?.kind === 'compressed') h.payloadCompression = m.compression;
  }
  return h;
}

export async function readBzImageHeader(path: string): Promise<BzImageHeader> {
  return parseBzImageHeader(await readKernelFile(path), path);
}

/** Kernels are a few tens of MiB: read whole, no file handle kept. */
export async function readKernelFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    throw openFailure(e, path);
  }
}

/** Far above any vmlinux (distribution kernels are under 100 MiB). */
const VMLINUX_LIMIT = 1 << 30;

/** The decompressed kernel held in a bzImage's payload. */
export async function decompressVmlinux(bytes: Buffer, h: BzImageHeader, opts: DecodeOptions = {}): Promise<Buffer> {
  if (h.payloadOffset === undefined || h.payloadLength === undefined) {
    throw new FormatError(`boot protocol ${h.protocol} has no payload fields (2.08 and later have them): cannot find the compressed kernel`, { file: h.file, offset: 0x248 });
  }
  if (!h.payloadCompression) {
    const hex = bytes.subarray(h.payloadOffset, h.payloadOffset + 6).toString('hex').replace(/(..)(?!$)/g, '$1 ');
    throw new FormatError(`the compressed kernel starts with unknown bytes ${hex}`, { file: h.file, offset: h.payloadOffset });
  }
  const payload = bytes.subarray(h.payloadOffset, h.payloadOffset + h.payloadLength);
  try {
    return await decodeBuffer(payload, h.payloadCompression, { maxOutput: VMLINUX_LIMIT, ...opts });
  } catch (e) {
    if (e instanceof RdError && e.where.offset !== undefined) locate(e, { file: h.file, offset: h.payloadOffset + e.where.offset }, true);
    return locate(e, { file: h.file, offset: h.payloadOffset });
  }
}

export async function bzImageVmlinux(path: string, opts: DecodeOptions = {}): Promise<Buffer> {
  const bytes = await readKernelFile(path);
  return decompressVmlinux(bytes, parseBzImageHeader(bytes, path), opts);
}

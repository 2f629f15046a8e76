/**
 * What a file holds for the kernel to unpack, as a list of parts with their
 * provenance. An initramfs is one part, the whole file. A UKI gives what
 * systemd-stub hands the kernel: the addons' .ucode, its own .ucode, the
 * chosen profile's .initrd, then the addons' .initrd sections. A bzImage
 * gives its built-in initramfs, found in the decompressed kernel. The read
 * commands ask only this layer and walk the parts as one image.
 */
import { closeSync, readSync, fstatSync } from 'node:fs';
import { basename } from 'node:path';
import { decodeBuffer } from '../compression/buffer-input.js';
import { detectMagic } from '../compression/detect.js';
import type { DecodeOptions } from '../compression/types.js';
import { FormatError, openForReading, RdError, EXIT } from '../errors.js';
import { decompressVmlinux, isBzImage, parseBzImageHeader, readKernelFile, type BzImageHeader } from '../kernel/bzimage.js';
import { locateBuiltinInitramfs } from '../kernel/vmlinux.js';
import { readPe, startsWithMz, type PeSection } from './pe.js';
import { findAddons, isUki, prettyName, profileSections, sectionText, uki, type Addon, type Uki } from './uki.js';

export interface ImagePart {
  /** Where the bytes come from, e.g. "UKI .initrd (profile 1)"; undefined for a plain image. */
  label?: string;
  /** The file read (for a built-in initramfs: the kernel image, with bytes in memory). */
  file: string;
  offset: number;
  length: number;
  /** The part's bytes when they exist only in memory (a built-in initramfs inside the decompressed kernel). */
  bytes?: Buffer;
}

export interface UkiReport {
  sections: Array<{ name: string; offset: number; size: number; virtualAddress: number; virtualSize: number }>;
  profiles: Array<{ index: number; text: string }>;
  profile: number;
  cmdline?: string;
  uname?: string;
  prettyName?: string;
  /** An Authenticode certificate table is present (not verified). */
  signed: boolean;
  addons: Array<{ file: string; sections: string[]; skipped?: string }>;
}

export interface Container {
  kind: 'initramfs' | 'uki' | 'kernel';
  file: string;
  parts: ImagePart[];
  uki?: UkiReport;
  kernel?: BzImageHeader & { builtin: { offset: number; length: number; found: string } };
}

export interface ContainerOptions {
  /** UKI profile (default 0, the stub's default). */
  profile?: number;
  /** Directory of UKI addons instead of the default `<uki>.extra.d/` (and the ESP's loader/addons/). */
  addons?: string;
  native?: DecodeOptions['native'];
  /** --profile and --addons apply to the files that are UKIs and are ignored for others (diff of a UKI and an initramfs). */
  ukiOptionsWhereUki?: boolean;
}

const HEAD = 0x250;
/** What the stub takes from an addon (the rest is the addon stub's own code). */
const ADDON_SECTIONS = ['.cmdline', '.dtb', '.dtbauto', '.ucode', '.initrd', '.uname', '.sbat'];

export async function openContainer(path: string, opts: ContainerOptions = {}): Promise<Container> {
  let head: Buffer;
  let size: number;
  const fd = openForReading(path);
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new RdError('is a directory, not an image', { file: path }, EXIT.badInput);
    size = st.size;
    head = Buffer.alloc(Math.min(HEAD, size));
    readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  if (startsWithMz(head)) {
    const pe = readPe(path);
    if (isUki(pe)) return ukiContainer(uki(pe), opts);
  }
  if ((opts.profile !== undefined || opts.addons !== undefined) && !opts.ukiOptionsWhereUki) {
    throw new RdError('--profile and --addons apply to a UKI; this file is not one', { file: path }, EXIT.usage);
  }
  if (startsWithMz(head)) {
    if (isBzImage(head)) return kernelContainer(path, opts);
    throw new FormatError('an EFI program, but neither a UKI (no .linux, .initrd or .ucode section) nor a Linux kernel', { file: path });
  }
  if (isBzImage(head)) return kernelContainer(path, opts);
  return { kind: 'initramfs', file: path, parts: [{ file: path, offset: 0, length: size }] };
}

function ukiContainer(u: Uki, opts: ContainerOptions): Container {
  const file = u.pe.file;
  const profile = opts.profile ?? 0;
  const chosen = profileSections(u, profile);
  const text = (name: string) => {
    const s = chosen.get(name);
    return s && sectionText(file, s);
  };
  const uname = text('.uname')?.trim();
  const addons = findAddons(file, uname, opts.addons);
  const used = addons.filter((a) => !a.skipped);
  const parts: ImagePart[] = [];
  const ofProfile = (s: PeSection) => (u.profiles.length && !u.base.includes(s) ? ` (profile ${profile})` : '');
  const part = (f: string, s: PeSection, label: string): ImagePart => ({ label, file: f, offset: s.rawOffset, length: s.fileSize });
  const addonSection = (a: Addon, name: string) => a.pe.sections.find((s) => s.name === name && s.fileSize > 0);
  for (const a of used) {
    const s = addonSection(a, '.ucode');
    if (s) parts.push(part(a.file, s, `addon ${basename(a.file)} .ucode`));
  }
  for (const name of ['.ucode', '.initrd']) {
    const s = chosen.get(name);
    if (s && s.fileSize > 0) parts.push(part(file, s, `UKI ${name}${ofProfile(s)}`));
  }
  for (const a of used) {
    const s = addonSection(a, '.initrd');
    if (s) parts.push(part(a.file, s, `addon ${basename(a.file)} .initrd`));
  }
  if (parts.length === 0) throw new FormatError(`a UKI without an .initrd section${u.profiles.length ? ` in profile ${profile}` : ''}: it boots with no initramfs of its own`, { file });
  const osrel = text('.osrel');
  return {
    kind: 'uki',
    file,
    parts,
    uki: {
      sections: u.pe.sections.map((s) => ({ name: s.name, offset: s.rawOffset, size: s.fileSize, virtualAddress: s.virtualAddress, virtualSize: s.virtualSize })),
      profiles: u.profiles.map((p) => ({ index: p.index, text: p.text })),
      profile,
      cmdline: text('.cmdline')?.trim(),
      uname,
      prettyName: osrel === undefined ? undefined : prettyName(osrel),
      signed: u.pe.certificate !== undefined,
      addons: addons.map((a) => ({ file: a.file, sections: a.pe.sections.map((s) => s.name).filter((n) => ADDON_SECTIONS.includes(n)), ...(a.skipped ? { skipped: a.skipped } : {}) })),
    },
  };
}

/** The cpio list the kernel builds in when CONFIG_INITRAMFS_SOURCE is empty (usr/default_cpio_list). */
const KERNEL_DEFAULT = ['dev', 'dev/console', 'root', 'TRAILER!!!'];

/** Names of a small newc archive, read by its headers alone (only used on a few hundred bytes). */
function newcNames(b: Buffer): string[] {
  const names: string[] = [];
  let o = 0;
  while (o + 110 <= b.length && b.toString('latin1', o, o + 6) === '070701') {
    const namesize = parseInt(b.toString('latin1', o + 94, o + 102), 16);
    const filesize = parseInt(b.toString('latin1', o + 54, o + 62), 16);
    const name = b.toString('latin1', o + 110, o + 110 + namesize - 1);
    names.push(name);
    if (name === 'TRAILER!!!') break;
    o += Math.ceil((110 + namesize) / 4) * 4;
    o += Math.ceil(filesize / 4) * 4;
  }
  return names;
}

async function kernelContainer(path: string, opts: ContainerOptions): Promise<Container> {
  const bytes = await readKernelFile(path);
  const header = parseBzImageHeader(bytes, path);
  const vmlinux = await decompressVmlinux(bytes, header, { native: opts.native });
  const at = locateBuiltinInitramfs(vmlinux, path);
  const release = header.release ? ` ${header.release}` : '';
  if (!at) throw new FormatError(`a kernel image without a built-in initramfs (kernel${release}; give its initramfs file instead)`, { file: path });
  let archive = vmlinux.subarray(at.offset, at.offset + at.length);
  const magic = detectMagic(archive.subarray(0, 16));
  // A small built-in archive may be only the kernel's default: then there is no initramfs to speak of.
  if (at.length < 4096) {
    const plain = magic?.kind === 'compressed' ? await decodeBuffer(archive, magic.compression, { maxOutput: 1 << 20, native: opts.native }).catch(() => Buffer.alloc(0)) : archive;
    if (newcNames(plain).join('\n') === KERNEL_DEFAULT.join('\n')) {
      throw new FormatError(`a kernel image without a built-in initramfs (kernel${release}: only the kernel's default /dev, /dev/console and /root; give its initramfs file instead)`, { file: path });
    }
  }
  archive = Buffer.from(archive);
  return {
    kind: 'kernel',
    file: path,
    parts: [{ label: `built-in initramfs (${at.length} bytes at offset ${at.offset} of the decompressed kernel)`, file: `${path} [built-in initramfs]`, offset: 0, length: at.length, bytes: archive }],
    kernel: { ...header, builtin: at },
  };
}

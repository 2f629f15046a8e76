/**
 * The parts of a vmlinux (the ELF kernel inside a bzImage's payload) that
 * say where its built-in initramfs is. The kernel links it into `.init.data`
 * (include/asm-generic/vmlinux.lds.h, INIT_RAM_FS): `__initramfs_start`
 * aligned to 4, the archive (usr/initramfs_data.S, section `.init.ramfs`),
 * alignment to 8, then `__initramfs_size` (section `.init.ramfs.info`, a
 * 64-bit value on 64-bit kernels) as the last thing of `.init.data`.
 * A bzImage's vmlinux has its symbols stripped (`objcopy -S`), so that
 * layout is what finds the archive there; a vmlinux with symbols or a
 * `.init.ramfs` section of its own is read by those.
 */
import { detectMagic } from '../compression/detect.js';
import { FormatError } from '../errors.js';

export interface ElfSection {
  name: string;
  type: number;
  addr: bigint;
  offset: number;
  size: number;
}

interface Elf {
  is64: boolean;
  sections: ElfSection[];
}

const SHT_SYMTAB = 2;
const SHT_NOBITS = 8;

/** Section headers of a little-endian ELF held in memory. */
export function elfSections(buf: Buffer, file: string): Elf {
  if (buf.length < 0x34 || buf.readUInt32BE(0) !== 0x7f454c46) throw new FormatError('the decompressed kernel is not an ELF vmlinux', { file });
  const is64 = buf[4] === 2;
  if (buf[5] !== 1) throw new FormatError('the decompressed kernel is a big-endian ELF (only little-endian kernels are read)', { file });
  const shoff = is64 ? Number(buf.readBigUInt64LE(0x28)) : buf.readUInt32LE(0x20);
  const shentsize = buf.readUInt16LE(is64 ? 0x3a : 0x2e);
  const shnum = buf.readUInt16LE(is64 ? 0x3c : 0x30);
  const shstrndx = buf.readUInt16LE(is64 ? 0x3e : 0x32);
  if (shoff === 0 || shnum === 0) return { is64, sections: [] };
  if (shoff + shnum * shentsize > buf.length) throw new FormatError('the vmlinux section table ends past the end of the kernel', { file, offset: shoff });
  const raw = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize;
    raw.push(
      is64
        ? { nameOff: buf.readUInt32LE(o), type: buf.readUInt32LE(o + 4), addr: buf.readBigUInt64LE(o + 0x10), offset: Number(buf.readBigUInt64LE(o + 0x18)), size: Number(buf.readBigUInt64LE(o + 0x20)) }
        : { nameOff: buf.readUInt32LE(o), type: buf.readUInt32LE(o + 4), addr: BigInt(buf.readUInt32LE(o + 0xc)), offset: buf.readUInt32LE(o + 0x10), size: buf.readUInt32LE(o + 0x14) },
    );
  }
  const strtab = raw[shstrndx];
  const name = (off: number) => {
    if (!strtab) return '';
    const at = strtab.offset + off;
    const end = buf.indexOf(0, at);
    return end < 0 ? '' : buf.toString('latin1', at, end);
  };
  const sections = raw.map((r) => ({ name: name(r.nameOff), type: r.type, addr: r.addr, offset: r.offset, size: r.type === SHT_NOBITS ? 0 : r.size }));
  for (const s of sections) {
    if (s.offset + s.size > buf.length) throw new FormatError(`vmlinux section ${s.name} ends past the end of the kernel`, { file, offset: s.offset });
  }
  return { is64, sections };
}

/** The value of a symbol of the ELF's .symtab, if it has one (vmlinux with symbols). */
function symbol(buf: Buffer, elf: Elf, wanted: string): bigint | undefined {
  const symtab = elf.sections.find((s) => s.type === SHT_SYMTAB);
  const strtab = symtab && elf.sections.find((s) => s.name === '.strtab');
  if (!symtab || !strtab) return undefined;
  const entsize = elf.is64 ? 24 : 16;
  for (let o = symtab.offset; o + entsize <= symtab.offset + symtab.size; o += entsize) {
    const at = strtab.offset + buf.readUInt32LE(o);
    if (buf.toString('latin1', at, at + wanted.length + 1) !== wanted + '\0') continue;
    return elf.is64 ? buf.readBigUInt64LE(o + 8) : BigInt(buf.readUInt32LE(o + 4));
  }
  return undefined;
}

/** File offset of a virtual address, through the section holding it. */
function fileOffset(elf: Elf, addr: bigint): number | undefined {
  const s = elf.sections.find((x) => x.size > 0 && x.addr > 0n && addr >= x.addr && addr < x.addr + BigInt(x.size));
  return s && s.offset + Number(addr - s.addr);
}

export interface BuiltinInitramfs {
  /** Offset and length of the archive (cpio or compressed) within the vmlinux bytes. */
  offset: number;
  length: number;
  /** How it was found: the `.init.ramfs` section, the symbols, or the `.init.data` layout. */
  found: 'section .init.ramfs' | 'symbols __initramfs_start/__initramfs_size' | 'end of .init.data';
}

const startsLikeInitramfs = (b: Buffer) => {
  const m = detectMagic(b);
  return m !== undefined && m.kind !== 'odc';
};

/** Where the built-in initramfs lies in a vmlinux, or undefined for a kernel built without one (CONFIG_BLK_DEV_INITRD=n). */
export function locateBuiltinInitramfs(vmlinux: Buffer, file: string): BuiltinInitramfs | undefined {
  const elf = elfSections(vmlinux, file);
  const own = elf.sections.find((s) => s.name === '.init.ramfs');
  if (own) return { offset: own.offset, length: own.size, found: 'section .init.ramfs' };
  const start = symbol(vmlinux, elf, '__initramfs_start');
  const sizeAt = symbol(vmlinux, elf, '__initramfs_size');
  if (start !== undefined && sizeAt !== undefined) {
    const o = fileOffset(elf, start);
    const so = fileOffset(elf, sizeAt);
    if (o !== undefined && so !== undefined) {
      const length = elf.is64 ? Number(vmlinux.readBigUInt64LE(so)) : vmlinux.readUInt32LE(so);
      if (o + length <= vmlinux.length) return { offset: o, length, found: 'symbols __initramfs_start/__initramfs_size' };
    }
  }
  const data = elf.sections.find((s) => s.name === '.init.data');
  const word = elf.is64 ? 8 : 4;
  if (!data || data.size < word) return undefined;
  const info = data.offset + data.size - word;
  const length = elf.is64 ? Number(vmlinux.readBigUInt64LE(info)) : vmlinux.readUInt32LE(info);
  if (length === 0 || length > info - data.offset) return undefined;
  // The size field is 8-aligned and the archive, 4-aligned, ends up to 7 bytes of padding before it.
  if ((data.addr + BigInt(info - data.offset)) % BigInt(word) !== 0n) return undefined;
  for (let pad = 0; pad < 8; pad++) {
    const offset = info - pad - length;
    if ((data.addr + BigInt(offset - data.offset)) % 4n !== 0n) continue;
    if (startsLikeInitramfs(vmlinux.subarray(offset, offset + 16))) return { offset, length, found: 'end of .init.data' };
  }
  return undefined;
}

import { openSync, readSync, closeSync, fstatSync } from 'node:fs';
import { FormatError } from '../errors.js';

/**
 * The parts of an ELF file the dynamic loader looks at before it runs
 * anything: class, byte order, machine, PT_INTERP and the dynamic section.
 * Read with positioned reads, so a 100 MB library costs a few KiB, and never
 * executed: `ldd` can run the program it inspects, this cannot.
 */
export interface ElfInfo {
  /** The name used in error messages (as the user or the closure knows the file). */
  file: string;
  class: 32 | 64;
  endian: 'little' | 'big';
  /** e_type: 2 executable, 3 shared object (also PIE executables). */
  type: number;
  /** e_machine, e.g. 62 x86-64, 3 i386, 183 AArch64. */
  machine: number;
  /** e_flags, needed for ABI variants that ld.so.cache tells apart (ARM float ABI). */
  flags: number;
  /** PT_INTERP: the program interpreter a dynamic executable asks the kernel for. */
  interpreter?: string;
  /** True when the file has PT_DYNAMIC (dynamic executables, shared objects, static-pie). */
  dynamic: boolean;
  needed: string[];
  soname?: string;
  rpath?: string;
  runpath?: string;
  /** DT_FLAGS_1; bit DF_1_NODEFLIB (0x800) turns off ld.so.cache and the default directories. */
  flags1: number;
  /** DT_VERNEED: the symbol versions ld.so must find in each library (e.g. libc.so.6: GLIBC_2.28), or it refuses to start the program. */
  versionsNeeded: Array<{ file: string; versions: string[] }>;
}

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
export const DF_1_NODEFLIB = 0x800;

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const DT_NULL = 0;
const DT_NEEDED = 1;
const DT_STRTAB = 5;
const DT_STRSZ = 10;
const DT_SONAME = 14;
const DT_RPATH = 15;
const DT_RUNPATH = 29;
const DT_FLAGS_1 = 0x6ffffffb;
const DT_VERNEED = 0x6ffffffe;
const DT_VERNEEDNUM = 0x6fffffff;
const PN_XNUM = 0xffff;

const MACHINES: Record<number, string> = {
  2: 'SPARC', 3: 'i386', 8: 'MIPS', 20: 'PowerPC', 21: 'PowerPC64', 22: 'S/390', 40: 'ARM', 43: 'SPARC V9',
  50: 'IA-64', 62: 'x86-64', 183: 'AArch64', 243: 'RISC-V', 258: 'LoongArch',
};

/** A short human name such as "ELF 64-bit x86-64", for messages about incompatible files. */
export function describeElf(e: Pick<ElfInfo, 'class' | 'machine'>): string {
  return `ELF ${e.class}-bit ${MACHINES[e.machine] ?? `machine ${e.machine}`}`;
}

/** True when two objects could be loaded into the same process (what ld.so checks before mapping). */
export function compatible(a: Pick<ElfInfo, 'class' | 'machine' | 'endian'>, b: Pick<ElfInfo, 'class' | 'machine' | 'endian'>): boolean {
  return a.class === b.class && a.machine === b.machine && a.endian === b.endian;
}

/** Reads the loader-relevant facts of the ELF file at `hostPath`; `name` is what errors call it. */
export function readElf(hostPath: string, name: string = hostPath): ElfInfo {
  const fd = openSync(hostPath, 'r');
  try {
    return parseElf(new FileBytes(fd, fstatSync(fd).size, name), name);
  } finally {
    closeSync(fd);
  }
}

/** Parses an ELF image held in memory (tests and callers that already have the bytes). */
export function parseElfBuffer(buf: Buffer, name: string): ElfInfo {
  return parseElf(new MemBytes(buf, name), name);
}

/** The first bytes say whether a file is ELF; used to tell programs from scripts. */
export function isElfHead(head: Uint8Array): boolean {
  return head.length >= 4 && ELF_MAGIC.equals(Buffer.from(head.buffer, head.byteOffset, 4));
}

interface Bytes {
  readonly size: number;
  /** Exactly `len` bytes at `off`, or a FormatError saying what ran past the end. */
  read(off: number, len: number, what: string): Buffer;
}

class FileBytes implements Bytes {
  constructor(private fd: number, readonly size: number, private name: string) {}
  read(off: number, len: number, what: string): Buffer {
    checkRange(this.size, off, len, what, this.name);
    const b = Buffer.alloc(len);
    let got = 0;
    while (got < len) {
      const n = readSync(this.fd, b, got, len - got, off + got);
      if (n === 0) throw new FormatError(`truncated ELF: ${what} at offset ${off} ends early`, { file: this.name });
      got += n;
    }
    return b;
  }
}

class MemBytes implements Bytes {
  constructor(private buf: Buffer, private name: string) {}
  get size(): number {
    return this.buf.length;
  }
  read(off: number, len: number, what: string): Buffer {
    checkRange(this.buf.length, off, len, what, this.name);
    return this.buf.subarray(off, off + len);
  }
}

function checkRange(size: number, off: number, len: number, what: string, name: string): void {
  if (!Number.isSafeInteger(off) || !Number.isSafeInteger(len) || off < 0 || len < 0 || off + len > size) {
    throw new FormatError(`truncated or corrupt ELF: ${what} (offset ${off}, ${len} bytes) lies beyond the end of the file (${size} bytes)`, {
      file: name,
    });
  }
}

/** Field reader for one class and byte order. */
class Fields {
  constructor(private le: boolean, readonly is64: boolean) {}
  u16(b: Buffer, o: number): number {
    return this.le ? b.readUInt16LE(o) : b.readUInt16BE(o);
  }
  u32(b: Buffer, o: number): number {
    return this.le ? b.readUInt32LE(o) : b.readUInt32BE(o);
  }
  /** An address, offset or size: 64-bit values beyond 2^53 cannot be file offsets, so they become NaN and fail range checks. */
  word(b: Buffer, o: number): number {
    if (!this.is64) return this.u32(b, o);
    const v = this.le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : NaN;
  }
  /** Dynamic tags are signed in the spec; the ones we need fit in 32 bits, others are compared as numbers. */
  tag(b: Buffer, o: number): number {
    if (!this.is64) return this.u32(b, o);
    const v = this.le ? b.readBigInt64LE(o) : b.readBigInt64BE(o);
    return v >= 0n && v <= 0xffffffffn ? Number(v) : -1;
  }
}

interface Segment {
  type: number;
  offset: number;
  vaddr: number;
  filesz: number;
}

function parseElf(src: Bytes, name: string): ElfInfo {
  if (src.size < 16) throw new FormatError(src.size >= 4 && isElfHead(src.read(0, 4, 'magic')) ? `truncated ELF: only ${src.size} bytes` : 'not an ELF file (too short)', { file: name });
  const ident = src.read(0, 16, 'e_ident');
  if (!isElfHead(ident)) throw new FormatError('not an ELF file (no \\x7fELF magic)', { file: name });
  const eiClass = ident[4];
  const eiData = ident[5];
  if (eiClass !== 1 && eiClass !== 2) throw new FormatError(`corrupt ELF: EI_CLASS is ${eiClass} (expected 1 for 32-bit or 2 for 64-bit)`, { file: name });
  if (eiData !== 1 && eiData !== 2) throw new FormatError(`corrupt ELF: EI_DATA is ${eiData} (expected 1 little-endian or 2 big-endian)`, { file: name });
  const is64 = eiClass === 2;
  const f = new Fields(eiData === 1, is64);
  const ehsize = is64 ? 64 : 52;
  const eh = src.read(0, ehsize, 'ELF header');
  const type = f.u16(eh, 16);
  const machine = f.u16(eh, 18);
  const phoff = f.word(eh, is64 ? 32 : 28);
  const shoff = f.word(eh, is64 ? 40 : 32);
  const flags = f.u32(eh, is64 ? 48 : 36);
  const phentsize = f.u16(eh, is64 ? 54 : 42);
  let phnum = f.u16(eh, is64 ? 56 : 44);
  if (phnum === PN_XNUM) {
    // More than 0xfffe program headers: the real count is in section header 0's sh_info.
    const sh0 = src.read(shoff, is64 ? 64 : 40, 'section header 0 (program header count)');
    phnum = f.u32(sh0, is64 ? 44 : 28);
  }
  const minPh = is64 ? 56 : 32;
  if (phnum > 0 && phentsize < minPh) throw new FormatError(`corrupt ELF: e_phentsize ${phentsize} is smaller than a program header (${minPh})`, { file: name });

  const segs: Segment[] = [];
  if (phnum > 0) {
    const tab = src.read(phoff, phnum * phentsize, `program header table (${phnum} entries)`);
    for (let i = 0; i < phnum; i++) {
      const o = i * phentsize;
      segs.push(
        is64
          ? { type: f.u32(tab, o), offset: f.word(tab, o + 8), vaddr: f.word(tab, o + 16), filesz: f.word(tab, o + 32) }
          : { type: f.u32(tab, o), offset: f.u32(tab, o + 4), vaddr: f.u32(tab, o + 8), filesz: f.u32(tab, o + 16) },
      );
    }
  }

  const info: ElfInfo = {
    file: name,
    class: is64 ? 64 : 32,
    endian: eiData === 1 ? 'little' : 'big',
    type,
    machine,
    flags,
    dynamic: false,
    needed: [],
    flags1: 0,
    versionsNeeded: [],
  };

  const interp = segs.find((s) => s.type === PT_INTERP);
  if (interp) {
    const raw = src.read(interp.offset, interp.filesz, 'PT_INTERP');
    const nul = raw.indexOf(0);
    info.interpreter = raw.subarray(0, nul < 0 ? raw.length : nul).toString('latin1');
    if (!info.interpreter) throw new FormatError('corrupt ELF: PT_INTERP is empty', { file: name, offset: interp.offset });
  }

  const dyn = segs.find((s) => s.type === PT_DYNAMIC);
  if (!dyn) return info;
  info.dynamic = true;
  const entSize = is64 ? 16 : 8;
  const dbuf = src.read(dyn.offset, dyn.filesz - (dyn.filesz % entSize), 'PT_DYNAMIC');
  const strOffsets: Array<[number, number]> = [];
  let strtab: number | undefined;
  let strsz: number | undefined;
  let verneed: number | undefined;
  let verneedNum = 0;
  for (let o = 0; o + entSize <= dbuf.length; o += entSize) {
    const tag = f.tag(dbuf, o);
    if (tag === DT_NULL) break;
    const val = f.word(dbuf, o + (is64 ? 8 : 4));
    switch (tag) {
      case DT_STRTAB:
        strtab = val;
        break;
      case DT_STRSZ:
        strsz = val;
        break;
      case DT_FLAGS_1:
        info.flags1 = val;
        break;
      case DT_VERNEED:
        verneed = val;
        break;
      case DT_VERNEEDNUM:
        verneedNum = val;
        break;
      case DT_NEEDED:
      case DT_SONAME:
      case DT_RPATH:
      case DT_RUNPATH:
        strOffsets.push([tag, val]);
        break;
    }
  }
  if (strOffsets.length === 0 && verneed === undefined) return info;
  if (strtab === undefined) throw new FormatError('corrupt ELF: dynamic section has names but no DT_STRTAB', { file: name, offset: dyn.offset });
  const fileOff = vaddrToOffset(segs, strtab);
  if (fileOff === undefined) throw new FormatError(`corrupt ELF: DT_STRTAB address 0x${strtab.toString(16)} is in no PT_LOAD segment`, { file: name });
  // DT_STRSZ can be absent in hand-made files; the containing segment bounds the table then.
  const seg = segs.find((s) => s.type === PT_LOAD && strtab! >= s.vaddr && strtab! < s.vaddr + s.filesz)!;
  const len = Math.min(strsz ?? Infinity, seg.vaddr + seg.filesz - strtab);
  const strings = src.read(fileOff, len, 'dynamic string table');
  const str = (off: number): string => {
    if (!(off >= 0 && off < strings.length)) throw new FormatError(`corrupt ELF: dynamic string offset ${off} is outside the string table (${strings.length} bytes)`, { file: name });
    const end = strings.indexOf(0, off);
    if (end < 0) throw new FormatError(`corrupt ELF: dynamic string at offset ${off} is not terminated`, { file: name });
    return strings.subarray(off, end).toString('latin1');
  };
  for (const [tag, off] of strOffsets) {
    const s = str(off);
    if (tag === DT_NEEDED) info.needed.push(s);
    // ld.so's get-dynamic-info.h overwrites its slot per tag, so a repeated tag's last value counts.
    else if (tag === DT_SONAME) info.soname = s;
    else if (tag === DT_RPATH) info.rpath = s;
    else if (tag === DT_RUNPATH) info.runpath = s;
  }
  if (verneed !== undefined) info.versionsNeeded = readVerneed(src, f, segs, verneed, verneedNum, str, name);
  return info;
}

/** The Elfxx_Verneed chain and each entry's Elfxx_Vernaux chain (16-byte records in both classes). */
function readVerneed(src: Bytes, f: Fields, segs: Segment[], vaddr: number, count: number, str: (off: number) => string, name: string): ElfInfo['versionsNeeded'] {
  let off = vaddrToOffset(segs, vaddr);
  if (off === undefined) throw new FormatError(`corrupt ELF: DT_VERNEED address 0x${vaddr.toString(16)} is in no PT_LOAD segment`, { file: name });
  const out: ElfInfo['versionsNeeded'] = [];
  // DT_VERNEEDNUM bounds the walk, so a vn_next cycle in a corrupt file cannot loop forever.
  for (let i = 0; i < count; i++) {
    const vn = src.read(off, 16, 'version requirement (Verneed)');
    const versions: string[] = [];
    let aux = off + f.u32(vn, 8);
    for (let j = 0, n = f.u16(vn, 2); j < n; j++) {
      const va = src.read(aux, 16, 'version requirement (Vernaux)');
      versions.push(str(f.u32(va, 8)));
      aux += f.u32(va, 12);
    }
    out.push({ file: str(f.u32(vn, 4)), versions });
    const next = f.u32(vn, 12);
    if (next === 0) break;
    off += next;
  }
  return out;
}

function vaddrToOffset(segs: Segment[], vaddr: number): number | undefined {
  for (const s of segs) {
    if (s.type === PT_LOAD && vaddr >= s.vaddr && vaddr < s.vaddr + s.filesz) return vaddr - s.vaddr + s.offset;
  }
  return undefined;
}

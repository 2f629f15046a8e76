/**
 * A PE/COFF reader of our own, for the EFI programs a UKI or an addon is:
 * DOS header, PE signature, COFF header, optional header (SizeOfImage, the
 * certificate table) and the section table, with names (long ones through
 * the COFF string table). Only headers are read (positioned reads); every
 * offset and size is checked against the file, so a truncated or forged
 * file gives one line naming the part that is wrong.
 */
import { closeSync, fstatSync, readSync } from 'node:fs';
import { FormatError, openForReading } from '../errors.js';

export interface PeSection {
  index: number;
  name: string;
  virtualAddress: number;
  virtualSize: number;
  rawOffset: number;
  rawSize: number;
  /** Bytes of the section in the file, as systemd-stub reads them: min(SizeOfRawData, VirtualSize). */
  fileSize: number;
}

export interface PeFile {
  file: string;
  size: number;
  /** COFF machine, e.g. 0x8664 x86-64, 0xaa64 AArch64. */
  machine: number;
  format: 'PE32' | 'PE32+';
  sizeOfImage: number;
  sectionAlignment: number;
  fileAlignment: number;
  /** Where the headers are, for a writer: the optional header, its data directories and the section table. */
  layout: { peAt: number; optAt: number; dirsAt: number; tableAt: number; symbolTable: number; symbols: number };
  /** The Authenticode certificate table (data directory 4; its address is a file offset), when present. */
  certificate?: { offset: number; size: number };
  sections: PeSection[];
}

const MACHINES: Record<number, string> = { 0x14c: 'i386', 0x8664: 'x86-64', 0xaa64: 'AArch64', 0x1c2: 'ARM', 0x5064: 'RISC-V 64', 0x6264: 'LoongArch64' };
export const machineName = (m: number) => MACHINES[m] ?? `machine 0x${m.toString(16)}`;

/** True when a file starts with the DOS "MZ" every PE file starts with. */
export function startsWithMz(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x4d && head[1] === 0x5a;
}

export function readPe(path: string): PeFile {
  const fd = openForReading(path);
  try {
    const size = fstatSync(fd).size;
    const at = (offset: number, length: number, what: string): Buffer => {
      if (offset + length > size) throw new FormatError(`truncated PE file: the ${what} (${length} bytes at offset ${offset}) ends past the end of the file (${size} bytes)`, { file: path, offset });
      const b = Buffer.alloc(length);
      readSync(fd, b, 0, length, offset);
      return b;
    };
    return parse(path, size, at);
  } finally {
    closeSync(fd);
  }
}

function parse(file: string, size: number, at: (offset: number, length: number, what: string) => Buffer): PeFile {
  const dos = at(0, 64, 'DOS header');
  if (!startsWithMz(dos)) throw new FormatError('not a PE file (no "MZ" at its start)', { file, offset: 0 });
  const peAt = dos.readUInt32LE(0x3c);
  if (peAt < 64 || peAt + 24 > size) throw new FormatError(`starts with "MZ" but its PE header offset ${peAt} lies outside the file (${size} bytes): not an EFI program`, { file, offset: 0x3c });
  const coff = at(peAt, 24, 'PE header');
  if (coff.readUInt32BE(0) !== 0x50450000) throw new FormatError(`starts with "MZ" but has no "PE\\0\\0" signature at offset ${peAt}: not an EFI program`, { file, offset: peAt });
  const machine = coff.readUInt16LE(4);
  const nsections = coff.readUInt16LE(6);
  const symtab = coff.readUInt32LE(12);
  const nsyms = coff.readUInt32LE(16);
  const optSize = coff.readUInt16LE(20);
  const optAt = peAt + 24;
  const opt = at(optAt, optSize, 'optional header');
  if (optSize < 2) throw new FormatError('PE file without an optional header: not an EFI program', { file, offset: optAt });
  const magic = opt.readUInt16LE(0);
  if (magic !== 0x10b && magic !== 0x20b) throw new FormatError(`unknown PE optional header magic 0x${magic.toString(16)}`, { file, offset: optAt });
  const format = magic === 0x20b ? 'PE32+' : 'PE32';
  const dirsAt = format === 'PE32+' ? 112 : 96;
  if (optSize < dirsAt) throw new FormatError(`the ${format} optional header is ${optSize} bytes, too short for its fields`, { file, offset: optAt });
  const sizeOfImage = opt.readUInt32LE(56);
  const ndirs = opt.readUInt32LE(dirsAt - 4);
  const pe: PeFile = {
    file,
    size,
    machine,
    format,
    sizeOfImage,
    sectionAlignment: opt.readUInt32LE(32),
    fileAlignment: opt.readUInt32LE(36),
    layout: { peAt, optAt, dirsAt: optAt + dirsAt, tableAt: optAt + optSize, symbolTable: symtab, symbols: nsyms },
    sections: [],
  };
  if (ndirs > 4 && dirsAt + 5 * 8 <= optSize) {
    const offset = opt.readUInt32LE(dirsAt + 32);
    const length = opt.readUInt32LE(dirsAt + 36);
    if (length > 0) {
      if (offset + length > size) throw new FormatError(`the certificate table (${length} bytes at offset ${offset}) ends past the end of the file (${size} bytes): truncated signed file`, { file, offset: optAt + dirsAt + 32 });
      pe.certificate = { offset, size: length };
    }
  }
  const tableAt = optAt + optSize;
  if (tableAt + nsections * 40 > size) {
    throw new FormatError(`the section table (${nsections} entries at offset ${tableAt}) ends past the end of the file (${size} bytes)`, { file, offset: tableAt });
  }
  const table = at(tableAt, nsections * 40, 'section table');
  let strings: Buffer | undefined;
  const longName = (n: number, entryAt: number): string => {
    if (!strings) {
      const strAt = symtab + nsyms * 18;
      if (symtab === 0 || strAt + 4 > size) throw new FormatError('a section has a long name but the file has no string table', { file, offset: entryAt });
      strings = at(strAt, Math.min(at(strAt, 4, 'string table').readUInt32LE(0), size - strAt), 'string table');
    }
    const end = strings.indexOf(0, n);
    if (n < 4 || n >= strings.length) throw new FormatError(`a section's long name points outside the string table (offset ${n})`, { file, offset: entryAt });
    return strings.toString('latin1', n, end < 0 ? strings.length : end);
  };
  for (let i = 0; i < nsections; i++) {
    const o = i * 40;
    const raw = table.subarray(o, o + 8);
    const nul = raw.indexOf(0);
    let name = raw.toString('latin1', 0, nul < 0 ? 8 : nul);
    if (/^\/\d+$/.test(name)) name = longName(Number(name.slice(1)), tableAt + o);
    const s: PeSection = {
      index: i,
      name,
      virtualSize: table.readUInt32LE(o + 8),
      virtualAddress: table.readUInt32LE(o + 12),
      rawSize: table.readUInt32LE(o + 16),
      rawOffset: table.readUInt32LE(o + 20),
      fileSize: 0,
    };
    // An image file can leave VirtualSize 0 (object-file style): the raw size is then the size.
    s.fileSize = s.virtualSize === 0 ? s.rawSize : Math.min(s.rawSize, s.virtualSize);
    if (s.fileSize > 0 && s.rawOffset + s.fileSize > size) {
      throw new FormatError(`section ${name} (${s.fileSize} bytes at offset ${s.rawOffset}) ends past the end of the file (${size} bytes): truncated file or a section table pointing past it`, { file, offset: tableAt + o });
    }
    pe.sections.push(s);
  }
  const placed = pe.sections.filter((s) => s.fileSize > 0).sort((a, b) => a.rawOffset - b.rawOffset);
  for (let i = 1; i < placed.length; i++) {
    const a = placed[i - 1]!;
    const b = placed[i]!;
    if (b.rawOffset < a.rawOffset + a.fileSize) {
      throw new FormatError(`sections ${a.name} (bytes ${a.rawOffset}-${a.rawOffset + a.fileSize - 1}) and ${b.name} (bytes ${b.rawOffset}-${b.rawOffset + b.fileSize - 1}) overlap`, { file, offset: tableAt + b.index * 40 });
    }
  }
  return pe;
}

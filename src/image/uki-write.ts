/**
 * A new UKI with its .initrd replaced, for machines that do not boot it
 * through Secure Boot (`--unsigned-ok`). The other sections keep their bytes
 * and their addresses; the new .initrd goes last, in the file and in memory,
 * SizeOfImage grows to hold it, and the certificate table is dropped (the
 * signature could only be wrong now). A multi-profile UKI is refused: which
 * profile's .initrd to change is a question for ukify, not a guess.
 */
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { RdError, EXIT } from '../errors.js';
import { readPe } from './pe.js';
import { sectionBytes, uki } from './uki.js';

export interface UkiRewrite {
  /** What the new file no longer has, and what no longer holds. */
  warnings: string[];
}

const align = (n: number, a: number) => (a > 1 ? Math.ceil(n / a) * a : n);

/** Writes `out`: the UKI at `path` with `initrd` (a file) as its .initrd. */
export function replaceUkiInitrd(path: string, initrd: string, out: string): UkiRewrite {
  const pe = readPe(path);
  const u = uki(pe);
  if (u.profiles.length) throw new RdError('--unsigned-ok writes UKIs without profiles only: rebuild a multi-profile UKI with ukify', { file: path }, EXIT.refused);
  const target = u.base.find((s) => s.name === '.initrd');
  if (!target) throw new RdError('--unsigned-ok replaces the .initrd section, and this UKI has none: add one with ukify', { file: path }, EXIT.refused);
  const src = readFileSync(path);
  const data = readFileSync(initrd);
  const fa = pe.fileAlignment;
  const sa = pe.sectionAlignment;
  const warnings: string[] = [];
  const others = pe.sections.filter((s) => s !== target && s.rawSize > 0).sort((a, b) => a.rawOffset - b.rawOffset);
  const headerEnd = Math.min(target.rawOffset, ...others.map((s) => s.rawOffset));
  const head = Buffer.from(src.subarray(0, headerEnd));
  const chunks: Buffer[] = [head];
  let pos = headerEnd;
  const put = (b: Buffer): number => {
    const at = align(pos, fa);
    if (at > pos) chunks.push(Buffer.alloc(at - pos));
    chunks.push(b);
    pos = at + b.length;
    return at;
  };
  const entry = (i: number) => pe.layout.tableAt + i * 40;
  for (const s of others) head.writeUInt32LE(put(src.subarray(s.rawOffset, s.rawOffset + s.rawSize)), entry(s.index) + 20);
  const rawSize = align(data.length, fa);
  head.writeUInt32LE(put(Buffer.concat([data, Buffer.alloc(rawSize - data.length)])), entry(target.index) + 20);
  head.writeUInt32LE(rawSize, entry(target.index) + 16);
  head.writeUInt32LE(data.length, entry(target.index) + 8);
  const vaEnd = Math.max(...pe.sections.filter((s) => s !== target).map((s) => align(s.virtualAddress + Math.max(s.virtualSize, s.rawSize), sa)));
  head.writeUInt32LE(vaEnd, entry(target.index) + 12);
  head.writeUInt32LE(align(vaEnd + data.length, sa), pe.layout.optAt + 56); // SizeOfImage
  head.writeUInt32LE(0, pe.layout.optAt + 64); // CheckSum: no longer right, and UEFI does not check it
  if (pe.layout.symbolTable) {
    // The COFF symbol and string tables (long section names) follow the sections.
    const at = pe.layout.symbolTable;
    const strAt = at + pe.layout.symbols * 18;
    const end = strAt + 4 <= src.length ? strAt + src.readUInt32LE(strAt) : strAt;
    head.writeUInt32LE(put(src.subarray(at, Math.min(end, src.length))), pe.layout.peAt + 12);
  }
  if (pe.certificate) {
    head.fill(0, pe.layout.dirsAt + 32, pe.layout.dirsAt + 40);
    warnings.push('its Authenticode signature was dropped: Secure Boot will refuse the new UKI until it is signed again');
  }
  if (pe.sections.some((s) => s.name === '.pcrsig')) warnings.push('its .pcrsig no longer matches: secrets sealed to the signed PCR policy will not unseal');
  const tmp = join(dirname(out), `.${process.pid}.rdrescue-uki.tmp`);
  try {
    writeFileSync(tmp, Buffer.concat(chunks));
    renameSync(tmp, out);
  } finally {
    rmSync(tmp, { force: true });
  }
  return { warnings };
}

/**
 * Runs a writer of plain images (`add`, `inject`) on the UKI's .initrd, then
 * puts the result back as a new UKI at `out`.
 */
export async function rewriteUkiInitrd<T>(path: string, out: string, write: (initrd: string, newInitrd: string) => Promise<T>): Promise<T & UkiRewrite> {
  const pe = readPe(path);
  const target = uki(pe).base.find((s) => s.name === '.initrd');
  if (!target) throw new RdError('--unsigned-ok replaces the .initrd section, and this UKI has none: add one with ukify', { file: path }, EXIT.refused);
  const dir = mkdtempSync(join(tmpdir(), 'rdrescue-uki-'));
  try {
    writeFileSync(join(dir, 'initrd.img'), sectionBytes(path, target));
    const r = await write(join(dir, 'initrd.img'), join(dir, 'new.img'));
    return { ...r, ...replaceUkiInitrd(path, join(dir, 'new.img'), out) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

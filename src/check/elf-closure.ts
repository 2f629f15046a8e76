import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { resolveClosure, STANDARD_PATH, type MissingLibrary, type ProgramError } from '../elf/closure.js';
import { readElf } from '../elf/elf.js';
import { FormatError } from '../errors.js';
import { resolveInView, type ImageFacts } from './image-facts.js';

/** What ld.so would fail to load for the image's programs, with the image as the root. */
export interface ImageClosure {
  /** Each missing library once, with every program or library that needs it. */
  missing: Array<{ name: string; neededBy: string[]; searched: string[] }>;
  /** Programs that cannot start at all (their PT_INTERP loader is missing). */
  errors: ProgramError[];
  programs: number;
}

/**
 * Runs the ELF closure over every executable in the image (an ELF with a
 * PT_INTERP, or a static one), against the image's extracted tree as the
 * root: its own ld.so.cache, its own /lib, nothing of the host's.
 */
export function imageClosure(facts: ImageFacts): ImageClosure {
  const programs: string[] = [];
  for (const p of facts.elfFiles) {
    try {
      const elf = readElf(join(facts.tree, p), '/' + p);
      if (elf.interpreter || !elf.dynamic) programs.push('/' + p);
    } catch (e) {
      if (!(e instanceof FormatError)) throw e;
    }
  }
  const c = resolveClosure(programs, { root: facts.tree, allowMissing: true, keepGoing: true, path: STANDARD_PATH });
  const byName = new Map<string, { name: string; neededBy: string[]; searched: string[] }>();
  for (const m of c.missing as MissingLibrary[]) {
    const g = byName.get(m.name) ?? { name: m.name, neededBy: [], searched: m.searched };
    if (!g.neededBy.includes(m.neededBy)) g.neededBy.push(m.neededBy);
    byName.set(m.name, g);
  }
  return { missing: [...byName.values()], errors: c.errors, programs: programs.length };
}

/** The first bytes of a file of the image (from the partial extraction: ELF programs and #! scripts have their content there). */
export function imageFileHead(facts: ImageFacts, path: string, n = 256): Buffer | undefined {
  const r = resolveInView(facts.entries, path);
  if (!r || r.entry.type !== 'file') return undefined;
  let fd: number;
  try {
    fd = openSync(join(facts.tree, r.path), 'r');
  } catch {
    return undefined;
  }
  try {
    const b = Buffer.alloc(n);
    return b.subarray(0, readSync(fd, b, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}

import { lstatSync } from 'node:fs';
import { resolve } from 'node:path';
import { resolveClosure } from '../elf/closure.js';
import { parseProgramSpec } from '../elf/mkroot.js';
import { RootFs } from '../elf/rootfs.js';
import { checkDest, closureTree } from '../elf/tree.js';
import { RdError, EXIT } from '../errors.js';
import { appendSegment, type AppendOptions } from './add.js';
import { itemOf, scanTree, writeEntriesOf, type TreeItem, type PackOptions } from './tree-source.js';

export interface AddOptions extends AppendOptions, PackOptions {
  /** `SRC[:DEST]`: a host file or directory (recursively), at DEST or at its own absolute path. */
  files?: string[];
  /** `PROGRAM[:DEST]`: a program with its whole shared-library closure, resolved by reading ELF (never ldd). */
  bins?: string[];
  /** Resolve --bin programs and their libraries inside this root instead of "/". */
  root?: string;
}

export interface AddReport {
  image: string;
  output: string;
  entries: number;
  originalBytes: number;
  newBytes: number;
}

/** Splits `SRC[:DEST]`; DEST defaults to SRC's absolute path and may not climb out of the image root. */
export function parseFileSpec(spec: string): { src: string; dest: string } {
  const i = spec.indexOf(':');
  const src = i < 0 ? spec : spec.slice(0, i);
  const dest = i < 0 ? resolve(spec) : spec.slice(i + 1);
  if (!src || !dest) throw new RdError(`bad file spec ${JSON.stringify(spec)}: expected SRC or SRC:DEST`, {}, EXIT.usage);
  return { src, dest: checkDest(dest) };
}

/** What `add` puts into the new segment: the given trees plus each program's closure. */
export function addItems(opts: Pick<AddOptions, 'files' | 'bins' | 'root'>): TreeItem[] {
  const items: TreeItem[] = [];
  for (const spec of opts.files ?? []) {
    const { src, dest } = parseFileSpec(spec);
    if (dest === '/') throw new RdError(`DEST of ${JSON.stringify(spec)} is the image root; give a path below it`, {}, EXIT.usage);
    items.push(...scanTree(src, dest.slice(1)));
  }
  if (opts.bins?.length) {
    const parsed = opts.bins.map(parseProgramSpec);
    const closure = resolveClosure(
      parsed.map((p) => p.program),
      { root: opts.root },
    );
    const programDests = new Map<string, string>();
    for (const p of parsed) {
      const found = closure.programs.find((d) => d.request === p.program);
      if (p.dest && found) programDests.set(found.path, p.dest);
    }
    const fs = new RootFs(closure.root);
    for (const e of closureTree(closure, { programDests })) {
      // Parent directories are left to appendSegment, which adds only those the image lacks.
      if (e.type === 'dir') continue;
      const name = e.dest.slice(1);
      if (e.type === 'file') {
        items.push({ ...itemOf(e.hostPath!, name), perm: e.perm });
        continue;
      }
      const st = lstatSync(fs.hostPath(e.dest), { throwIfNoEntry: false });
      items.push({ name, type: 'symlink', perm: 0o777, uid: 0, gid: 0, mtime: st ? Math.floor(st.mtimeMs / 1000) : 0, size: 0, target: e.target });
    }
  }
  if (items.length === 0) throw new RdError('nothing to add: give SRC[:DEST] or --bin PROGRAM', {}, EXIT.usage);
  return items;
}

/** `rdrescue add`: the files and programs as one new segment behind the untouched image. */
export async function addToImage(image: string, out: string, opts: AddOptions): Promise<AddReport> {
  const entries = writeEntriesOf(addItems(opts), opts);
  const r = await appendSegment(image, out, entries, opts);
  return { image, output: out, entries: entries.length, ...r };
}

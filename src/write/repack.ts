import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Compression } from '../compression/index.js';
import type { CpioFormat } from '../cpio/header.js';
import { RdError, EXIT } from '../errors.js';
import { refuseWritingUki } from '../image/write-refusal.js';
import { ImageOutput, writeSegment } from './image-output.js';
import { treeSource, type PackOptions } from './tree-source.js';

export interface RepackOptions extends PackOptions {
  /** Compression of the main archive (default gzip: every kernel with initramfs support has it). */
  compress?: Compression | 'none';
  level?: number;
  /** Uncompressed archives written before the main one, in order. */
  early?: string[];
  /** Compression of main2, main3, … in an extract layout (default: the same as `compress`). */
  laterCompress?: Compression | 'none';
  format?: CpioFormat;
}

export interface RepackedSegment {
  dir: string;
  compression: Compression | 'none';
  offset: number;
  storedBytes: number;
  entries: number;
}

export interface RepackReport {
  image: string;
  bytes: number;
  segments: RepackedSegment[];
}

const LAYOUT = /^(early|main)([1-9]\d*)?$/;

/**
 * Recognises the directory `extract` writes for a multi-segment image:
 * only early, early2, …, main, main2, … directories. Returns them in image
 * order (every early before every main, numerically), or undefined for a
 * plain tree.
 */
export function detectLayout(dir: string): { early: string[]; main: string[] } | undefined {
  const names = readdirSync(dir);
  if (names.length === 0) return undefined;
  const early: Array<[number, string]> = [];
  const main: Array<[number, string]> = [];
  for (const n of names) {
    const m = LAYOUT.exec(n);
    if (!m || !lstatSync(join(dir, n)).isDirectory()) return undefined;
    (m[1] === 'early' ? early : main).push([m[2] ? Number(m[2]) : 1, join(dir, n)]);
  }
  const order = (a: [number, string], b: [number, string]) => a[0] - b[0];
  return { early: early.sort(order).map((x) => x[1]), main: main.sort(order).map((x) => x[1]) };
}

/**
 * Builds an image from directories: [early archives, uncompressed][main,
 * compressed][main2…]. When `dir` holds the extract layout, that layout is
 * rebuilt; otherwise `dir` is the main archive behind `opts.early`.
 */
export async function repackImage(dir: string, out: string, opts: RepackOptions = {}): Promise<RepackReport> {
  refuseWritingUki(undefined, out);
  let st;
  try {
    st = lstatSync(dir);
  } catch {
    throw new RdError(`${dir}: no such directory`, {}, EXIT.usage);
  }
  if (!st.isDirectory()) throw new RdError(`${dir} is not a directory`, {}, EXIT.usage);
  const compress = opts.compress ?? 'gzip';
  const layout = detectLayout(dir);
  if (layout && opts.early?.length) {
    throw new RdError(`${dir} already holds an early/main layout; --early applies only to a plain tree`, {}, EXIT.usage);
  }
  const plan: Array<{ dir: string; compress: Compression | 'none' }> = layout
    ? [
        ...layout.early.map((d) => ({ dir: d, compress: 'none' as const })),
        ...layout.main.map((d, i) => ({ dir: d, compress: i === 0 ? compress : (opts.laterCompress ?? compress) })),
      ]
    : [...(opts.early ?? []).map((d) => ({ dir: d, compress: 'none' as const })), { dir, compress }];
  const segments: RepackedSegment[] = [];
  // Every tree is scanned before the output exists, so an OUT inside DIR never archives its own temporary file.
  const sources = plan.map((p) => ({ ...p, entries: treeSource(p.dir, opts) }));
  await ImageOutput.write(out, async (o) => {
    for (const p of sources) {
      const entries = p.entries;
      const offset = o.offset;
      await writeSegment(o, { entries, compress: p.compress, level: opts.level, format: opts.format });
      segments.push({ dir: p.dir, compression: p.compress, offset, storedBytes: o.offset - offset, entries: entries.length });
    }
  });
  return { image: out, bytes: segments.reduce((n, s) => n + s.storedBytes, 0), segments };
}

import { appendSegment } from '../write/add.js';
import type { Compression } from '../compression/types.js';
import { findExecutable } from './executable.js';
import { buildPayload, payloadEntries, stagePayload, type Payload } from './payload.js';

export interface InjectOptions {
  /** The single executable to carry (default: see findExecutable). */
  exe?: string;
  compress?: Compression | 'none';
  level?: number;
  /** Told about entries left out because the image already has what they would create. */
  onWarning?: (message: string) => void;
}

export interface InjectReport {
  image: string;
  out: string;
  exe: string;
  /** Files added (the executable, its loader and libraries, the launcher). */
  files: string[];
  /** Their total size before compression. */
  payloadBytes: number;
  originalBytes: number;
  newBytes: number;
  grewBy: number;
}

/**
 * Appends one segment that makes `rdrescue` runnable in the image's shell:
 * the executable with its complete library closure in /usr/lib/rdrescue and
 * the launcher /usr/bin/rdrescue. The original bytes stay as they were.
 */
export async function inject(image: string, out: string, opts: InjectOptions = {}): Promise<InjectReport> {
  const payload = buildPayload(findExecutable(opts.exe));
  const { originalBytes, newBytes } = await appendSegment(image, out, payloadEntries(payload), { compress: opts.compress, level: opts.level, onWarning: opts.onWarning });
  return {
    image,
    out,
    exe: payload.exe,
    files: payload.files.map((f) => '/' + f.name),
    payloadBytes: payload.bytes,
    originalBytes,
    newBytes,
    grewBy: newBytes - originalBytes,
  };
}

/** The same files written into an initramfs build tree (what the dracut and initramfs-tools hooks call). */
export function stageExecutable(dir: string, opts: Pick<InjectOptions, 'exe'> = {}): Payload {
  const payload = buildPayload(findExecutable(opts.exe));
  stagePayload(payload, dir);
  return payload;
}

import { COMPRESSIONS, type Compression } from '../compression/types.js';
import { RdError, EXIT } from '../errors.js';

/** `--compress` values: the kernel's compressions plus none. */
export const COMPRESS_CHOICES: readonly string[] = ['none', ...COMPRESSIONS];

export function parseCompression(value: string, option = '--compress'): Compression | 'none' {
  if (!COMPRESS_CHOICES.includes(value)) throw new RdError(`${option} must be one of ${COMPRESS_CHOICES.join(', ')}; got ${JSON.stringify(value)}`, {}, EXIT.usage);
  return value as Compression | 'none';
}

/** `--owner U:G` with numeric ids, as `cpio -R` takes them for reproducible images. */
export function parseOwner(value: string): { uid: number; gid: number } {
  const m = /^(\d+):(\d+)$/.exec(value);
  if (!m) throw new RdError(`--owner needs numeric UID:GID such as 0:0, got ${JSON.stringify(value)}`, {}, EXIT.usage);
  return { uid: Number(m[1]), gid: Number(m[2]) };
}

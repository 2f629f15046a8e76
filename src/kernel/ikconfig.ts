import { gunzipSync } from 'node:zlib';
import { FormatError } from '../errors.js';

const START = Buffer.from('IKCFG_ST');
const END = Buffer.from('IKCFG_ED');

/**
 * The configuration a kernel built with CONFIG_IKCONFIG carries: kernel/configs.c
 * puts the gzip-compressed .config between the markers "IKCFG_ST" and
 * "IKCFG_ED" in the (decompressed) vmlinux, which is what scripts/extract-ikconfig
 * looks for. Undefined when the kernel has none.
 */
export function embeddedConfig(vmlinux: Buffer, file: string): string | undefined {
  const at = vmlinux.indexOf(START);
  if (at < 0) return undefined;
  const end = vmlinux.indexOf(END, at + START.length);
  if (end < 0) throw new FormatError('IKCFG_ST without IKCFG_ED: the embedded configuration is cut short', { file, offset: at });
  try {
    return gunzipSync(vmlinux.subarray(at + START.length, end)).toString('utf8');
  } catch (e) {
    throw new FormatError(`the embedded configuration (IKCONFIG) does not decompress: ${(e as Error).message}`, { file, offset: at + START.length });
  }
}

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findProgramInView, resolveInView, type ImageFacts } from './image-facts.js';

/**
 * Where the image has a program: a file in PATH, or a busybox applet (the
 * busybox binary lists its applet names as NUL-separated strings), since
 * scripts run an applet through busybox when no link was made for it.
 */
export function imageProgram(facts: ImageFacts, name: string): string | undefined {
  const file = findProgramInView(facts.entries, name);
  if (file) return file;
  const bb = findProgramInView(facts.entries, 'busybox');
  const real = bb ? resolveInView(facts.entries, bb) : undefined;
  if (!real) return undefined;
  let bin: Buffer;
  try {
    bin = readFileSync(join(facts.tree, real.path));
  } catch {
    return undefined;
  }
  return bin.includes(Buffer.from(`\0${name}\0`)) ? `${bb} (applet ${name})` : undefined;
}

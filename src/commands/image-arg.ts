import { defaultImage } from '../image/default-image.js';

/** IMAGE arguments default to the running kernel's initramfs; say so when a fallback was taken. */
export function resolveImage(image: string | undefined): string {
  if (image) return image;
  const d = defaultImage();
  if (d.note) process.stderr.write(`rdrescue: ${d.note}\n`);
  return d.path;
}

/** Options shared by every command that reads an image. */
export interface ReadFlags {
  native?: boolean;
  maxOutput?: string;
}

import type { ContainerOptions } from '../image/container.js';
import { defaultImage } from '../image/default-image.js';
import { intOption } from './common.js';

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

/** Help of the UKI options every read command takes. */
export const PROFILE_HELP = "for a UKI: the profile to read (default 0, the stub's default)";
export const ADDONS_HELP = "for a UKI: the directory of its addons (default: <uki>.extra.d/ next to it, and the ESP's loader/addons/)";

/** --profile N and --addons DIR as the container layer takes them. */
export function ukiFlags(o: { profile?: string; addons?: string }): ContainerOptions {
  return { profile: o.profile === undefined ? undefined : intOption('--profile', o.profile), addons: o.addons };
}

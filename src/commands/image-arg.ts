import type { ContainerOptions } from '../image/container.js';
import { defaultImage, findDefaultImage } from '../image/default-image.js';
import { withExampleImage } from '../image/example-image.js';
import { intOption } from './common.js';

/** IMAGE arguments default to the running kernel's initramfs; say so when a fallback was taken. */
export function resolveImage(image: string | undefined): string {
  if (image) return image;
  const d = defaultImage();
  if (d.note) process.stderr.write(`rdrescue: ${d.note}\n`);
  return d.path;
}

/**
 * Like resolveImage, but on a machine with no initramfs at all (a container,
 * a CI runner) runs `read` on the example image that ships with rdrescue,
 * saying so on stderr: the first command a newcomer types shows something.
 */
export async function withImageOrExample<T>(image: string | undefined, read: (path: string) => Promise<T>): Promise<{ result: T; example: boolean }> {
  if (image || findDefaultImage()) return { result: await read(resolveImage(image)), example: false };
  process.stderr.write(
    'rdrescue: no initramfs in /boot on this machine; showing the example image that ships with rdrescue (an early microcode part and a main part). Read a real one with: rdrescue info IMAGE\n',
  );
  return { result: await withExampleImage(read), example: true };
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

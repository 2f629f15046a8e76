import type { ImageFacts } from './image-facts.js';

export type Generator = 'dracut' | 'initramfs-tools' | 'mkinitcpio';

/** What made the image, from the layout each generator leaves (dracut's module list, initramfs-tools' conf/ and scripts/, mkinitcpio's init_functions). */
export function imageGenerator(facts: ImageFacts): Generator | undefined {
  const has = (p: string) => facts.entries.has(p);
  if (has('usr/lib/dracut') || has('usr/lib/dracut/modules.txt')) return 'dracut';
  if (has('conf/initramfs.conf') || has('scripts/functions')) return 'initramfs-tools';
  if (has('init_functions')) return 'mkinitcpio';
  return undefined;
}

/** The dracut modules the image was built with (usr/lib/dracut/modules.txt). */
export function dracutModules(facts: ImageFacts): Set<string> {
  return new Set((facts.texts.get('usr/lib/dracut/modules.txt') ?? '').split('\n').map((l) => l.trim()).filter(Boolean));
}

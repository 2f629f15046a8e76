import { error, type Rule } from '../findings.js';
import { fixCommand } from '../fix.js';

/**
 * The kernel stops unpacking at the first member it cannot decode ("RAMDISK:
 * EOF", "Initramfs unpacking failed") and boots with what came before: a
 * truncated write to a full /boot is the usual cause.
 */
export const imageUnreadable: Rule = (ctx) => {
  const u = ctx.facts.unreadable;
  if (!u) return [];
  const at = `${u.segment !== undefined ? `, segment ${u.segment}` : ''}${u.offset !== undefined ? ` at offset ${u.offset}` : ''}`;
  return [
    error(
      'image-unreadable',
      `${ctx.image}${at}: ${u.message}; the kernel stops unpacking there and boots without the rest. ` +
        `Check the free space on /boot (df -h /boot), then rebuild: ${fixCommand(ctx.generator, ctx.kernel.version, ctx.image)}`,
    ),
  ];
};

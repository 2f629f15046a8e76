import { resolveInView } from '../image-facts.js';
import { error, type Rule } from '../findings.js';
import { fixCommand } from '../fix.js';

/**
 * The kernel runs /init of the initramfs (rdinit=); without an executable
 * one it falls back to mounting root= itself, with no modules loaded, which
 * ends in "VFS: Unable to mount root fs".
 */
export const initMissing: Rule = (ctx) => {
  const init = resolveInView(ctx.facts.entries, 'init');
  const fix = fixCommand(ctx.generator, ctx.kernel.version, ctx.image);
  const link = ctx.facts.entries.get('init');
  if (!init) {
    const what = link?.type === 'symlink' ? `/init is a symlink to ${link.target}, which is not in the image` : 'the image has no /init';
    return [error('init-missing', `${ctx.image}: ${what}; the kernel would try to mount the root itself and fail with "VFS: Unable to mount root fs". Rebuild: ${fix}`)];
  }
  if (init.entry.type !== 'file') return [error('init-missing', `${ctx.image}: /init is a ${init.entry.type}, not a program. Rebuild: ${fix}`)];
  if (!(init.entry.perm & 0o111)) return [error('init-missing', `${ctx.image}: /init (mode ${init.entry.perm.toString(8).padStart(4, '0')}) is not executable; the kernel cannot run it. Rebuild: ${fix}`)];
  return [];
};

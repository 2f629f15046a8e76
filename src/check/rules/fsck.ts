import { dracutModules } from '../generator.js';
import { warning, type Rule } from '../findings.js';
import { fixCommand } from '../fix.js';
import { imageProgram } from '../programs.js';

/** fsck programs per filesystem; the ones whose fsck does real work at boot (fsck.xfs and btrfs's are no-ops). */
const FSCK: Record<string, string[]> = { ext2: ['fsck.ext2', 'e2fsck'], ext3: ['fsck.ext3', 'e2fsck'], ext4: ['fsck.ext4', 'e2fsck'], vfat: ['fsck.vfat', 'fsck.fat'], f2fs: ['fsck.f2fs'] };

/**
 * initramfs-tools' fsck hook and dracut's fs-lib module put the root's fsck
 * in the image when fstab asks for a check (sixth field not 0); without it
 * the root is mounted unchecked after a crash.
 */
export const fsckMissing: Rule = (ctx) => {
  const fs = ctx.needs.fsType;
  const programs = fs ? FSCK[fs] : undefined;
  if (!programs || !ctx.needs.fsckPass) return [];
  const adds = ctx.generator === 'initramfs-tools' || (ctx.generator === 'dracut' && dracutModules(ctx.facts).has('fs-lib'));
  if (!adds || programs.some((p) => imageProgram(ctx.facts, p))) return [];
  return [warning('fsck-missing', `the root is ${fs} with fsck pass ${ctx.needs.fsckPass} (${ctx.needs.from}) but ${ctx.image} has no ${programs.join(' or ')}: the root is mounted without a check. Rebuild: ${fixCommand(ctx.generator, ctx.kernel.version, ctx.image)}`)];
};

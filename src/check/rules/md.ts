import { warning, type Rule } from '../findings.js';
import { fixCommand } from '../fix.js';
import { imageProgram } from '../programs.js';

/** A root on md needs mdadm to assemble the array (the kernel's own autodetect covers only 0.90 superblocks on type-fd partitions). */
export const mdToolsMissing: Rule = (ctx) => {
  if (!ctx.needs.md || imageProgram(ctx.facts, 'mdadm')) return [];
  return [warning('md-tools-missing', `${ctx.needs.md}, but ${ctx.image} has no mdadm to assemble it. Rebuild: ${fixCommand(ctx.generator, ctx.kernel.version, ctx.image, { storage: 'md' })}`)];
};

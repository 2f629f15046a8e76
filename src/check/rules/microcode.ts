import { warning, type Rule } from '../findings.js';
import { fixCommand } from '../fix.js';

/**
 * The kernel's early microcode loader finds kernel/x86/microcode/*.bin only
 * in uncompressed cpio data at the start of the image (it runs before any
 * decompressor); a copy inside a compressed member is never applied early.
 */
export const microcodeNotEarly: Rule = (ctx) => {
  const firstCompressed = ctx.facts.segments.find((s) => s.compression !== 'none')?.index ?? Infinity;
  return [...ctx.facts.entries]
    .filter(([p, e]) => /^kernel\/x86\/microcode\/[^/]+\.bin$/.test(p) && e.type === 'file')
    .filter(([, e]) => e.segment > firstCompressed || ctx.facts.segments[e.segment]?.compression !== 'none')
    .map(([p, e]) =>
      warning('microcode-not-early', `${ctx.image}: /${p} is in segment ${e.segment}, which is ${ctx.facts.segments[e.segment]?.compression ?? 'a later'}-compressed or after one; the CPU microcode is not loaded early. Rebuild with early microcode: ${fixCommand(ctx.generator, ctx.kernel.version, ctx.image).replace(/^dracut /, 'dracut --early-microcode ')}`),
    );
};

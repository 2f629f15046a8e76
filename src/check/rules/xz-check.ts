import { xzCheckWarnings } from '../../image/xz-check.js';
import { error, type Rule } from '../findings.js';
import { fixCommand } from '../fix.js';

/** An xz member with a check other than none or CRC32 is refused by the kernel's decoder (see image/xz-check.ts for the source). */
export const xzCheckUnsupported: Rule = (ctx) =>
  xzCheckWarnings(ctx.image, ctx.facts.segments).map((w) =>
    error('xz-check-unsupported', `${ctx.image}: ${w.message}; or rebuild: ${fixCommand(ctx.generator, ctx.kernel.version, ctx.image)}`),
  );

import { imageKernelVersions, isModular } from '../kernel.js';
import { error, type Rule } from '../findings.js';
import { fixCommand } from '../fix.js';

/** A modular kernel booting an image without its lib/modules/VERSION loads no module at all: no disk driver, no filesystem. */
export const kernelModulesMissing: Rule = (ctx) => {
  const v = ctx.kernel.version;
  if (!v || isModular(ctx.kernel) === false) return [];
  const have = imageKernelVersions(ctx.facts);
  if (have.includes(v)) return [];
  const other = have.length ? `modules for ${have.join(', ')} only` : 'no /lib/modules at all';
  return [
    error(
      'kernel-modules-missing',
      `${ctx.image} has ${other}, but the kernel is ${v} (from ${ctx.kernel.versionFrom}); at boot modprobe finds no module for it. ` +
        `Build the image for ${v}: ${fixCommand(ctx.generator, v, ctx.image)}`,
    ),
  ];
};

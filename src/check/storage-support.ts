import { imageKernelVersions, imageModules, isBuiltin } from './kernel.js';
import type { CheckContext } from './findings.js';

/**
 * Whether the kernel will have a module at boot: in the image, built in
 * (modules.builtin, or =y in the configuration), or unknown because the
 * image carries no modules for this kernel (kernel-modules-missing says so).
 */
export function moduleAvailable(ctx: CheckContext, name: string, symbol: string): boolean {
  const v = ctx.kernel.version;
  if (!v || !imageKernelVersions(ctx.facts).includes(v)) return true;
  return imageModules(ctx.facts, v).has(name) || isBuiltin(ctx.kernel, name) || ctx.kernel.config?.get(symbol) === 'y';
}

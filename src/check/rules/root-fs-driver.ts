import { imageKernelVersions, imageModules, isBuiltin, isModular, moduleName } from '../kernel.js';
import { error, type CheckContext, type Rule } from '../findings.js';
import { fixCommand } from '../fix.js';

/** Filesystems the kernel knows without a module of their own name. */
const ALIAS: Record<string, string> = { ext2: 'ext4', ext3: 'ext4', vfat: 'vfat', msdos: 'msdos', fuseblk: 'fuse' };

/** The module path (from modules.dep) of the module named `name`, if the kernel has one. */
function depPath(ctx: CheckContext, name: string): string | undefined {
  for (const p of ctx.kernel.deps?.keys() ?? []) if (moduleName(p) === name) return p;
  return undefined;
}

/**
 * The module of the root's filesystem, and every module it depends on (per
 * modules.dep), must be in the image or built into the kernel; otherwise
 * the mount fails with "unknown filesystem type" and the boot stops.
 */
export const rootFsDriverMissing: Rule = (ctx) => {
  const fs = ctx.needs.fsType;
  const v = ctx.kernel.version;
  if (!fs || !v || ['auto', 'none', 'tmpfs', 'nfs', 'nfs4', 'overlay', 'virtiofs', '9p'].includes(fs)) return [];
  // A modular kernel without its modules in the image: kernel-modules-missing has said it all.
  if (isModular(ctx.kernel) !== false && !imageKernelVersions(ctx.facts).includes(v)) return [];
  let name = fs.replace(/-/g, '_');
  if (!depPath(ctx, name) && !isBuiltin(ctx.kernel, name) && ALIAS[name]) name = ALIAS[name];
  if (isBuiltin(ctx.kernel, name) || ctx.kernel.config?.get(`CONFIG_${name.toUpperCase()}_FS`) === 'y') return [];
  const path = depPath(ctx, name);
  if (!path) {
    // A kernel that lists neither the module nor a builtin cannot be judged without modules.builtin.
    if (!ctx.kernel.builtin || !ctx.kernel.deps) return [];
    const fromImage = ctx.kernel.depsFrom?.endsWith('in the image');
    return [
      error(
        'root-fs-driver-missing',
        fromImage
          ? `the root filesystem is ${fs} (${ctx.needs.from}) but ${ctx.image} has no ${name} module (not in ${ctx.kernel.depsFrom}) and ${ctx.kernel.builtinFrom} does not list it as built in; the root mount would fail with "unknown filesystem type '${fs}'". Rebuild: ${fixCommand(ctx.generator, v, ctx.image, { drivers: [name] })}`
          : `the root filesystem ${fs} (${ctx.needs.from}) has no module in ${ctx.kernel.depsFrom} and is not in ${ctx.kernel.builtinFrom}: kernel ${v} cannot mount it. Use a kernel with CONFIG_${name.toUpperCase()}_FS`,
      ),
    ];
  }
  const present = imageModules(ctx.facts, v);
  const needed = [path, ...(ctx.kernel.deps!.get(path) ?? [])];
  const missing = needed.filter((p) => !present.has(moduleName(p)) && !isBuiltin(ctx.kernel, moduleName(p)));
  if (!missing.length) return [];
  const names = missing.map(moduleName);
  const deps = needed.length > 1 ? ` (${moduleName(path)} needs ${needed.slice(1).map(moduleName).join(', ')}, per ${ctx.kernel.depsFrom})` : '';
  return [
    error(
      'root-fs-driver-missing',
      `the root filesystem is ${fs} (${ctx.needs.from}) but ${ctx.image} lacks the module${names.length > 1 ? 's' : ''} ${names.join(', ')}${deps}, and ${names.length > 1 ? 'they are' : 'it is'} not built into ${v}` +
        `${ctx.kernel.builtinFrom ? ` (${ctx.kernel.builtinFrom})` : ''}; the root mount would fail with "unknown filesystem type '${fs}'". Rebuild: ${fixCommand(ctx.generator, v, ctx.image, { drivers: names })}`,
    ),
  ];
};

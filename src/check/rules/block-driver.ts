import { moduleName } from '../kernel.js';
import { warning, type Rule } from '../findings.js';
import { fixCommand } from '../fix.js';
import { moduleAvailable } from '../storage-support.js';

/** sysfs names some drivers differently from their module. */
const MODULE_OF: Record<string, string> = { sd: 'sd_mod', sr: 'sr_mod' };

/**
 * On a live system: the drivers sysfs shows between the root and its disk
 * (virtio_blk and virtio_pci, nvme, ahci and sd_mod, hv_storvsc, xen_blkfront)
 * must be in the image or built into the kernel that boots it. Drivers this
 * kernel has no module of that name for are left alone.
 */
export const blockDriverMissing: Rule = (ctx) => {
  const known = new Set([...(ctx.kernel.deps?.keys() ?? [])].map(moduleName));
  const missing = new Map<string, string>();
  for (const d of ctx.needs.blockDrivers) {
    const name = MODULE_OF[d.driver] ?? d.driver.replace(/-/g, '_');
    if (!known.has(name) || missing.has(name)) continue;
    if (!moduleAvailable(ctx, name, '')) missing.set(name, d.device);
  }
  return [...missing].map(([name, device]) =>
    warning('block-driver-missing', `the root disk ${device} is driven by ${name}, which ${ctx.image} lacks and kernel ${ctx.kernel.version} does not have built in: the root disk would not appear. Rebuild: ${fixCommand(ctx.generator, ctx.kernel.version, ctx.image, { drivers: [name] })}`),
  );
};

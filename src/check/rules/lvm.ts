import { error, type Rule } from '../findings.js';
import { fixCommand } from '../fix.js';
import { imageProgram } from '../programs.js';
import { moduleAvailable } from '../storage-support.js';

/** A root on LVM needs the lvm program to activate it and device-mapper (dm_mod); without them dracut's initqueue times out and initramfs-tools waits for the root device. */
export const lvmMissing: Rule = (ctx) => {
  if (!ctx.needs.lvm) return [];
  const missing: string[] = [];
  if (!imageProgram(ctx.facts, 'lvm')) missing.push('lvm program');
  if (!moduleAvailable(ctx, 'dm_mod', 'CONFIG_BLK_DEV_DM')) missing.push('dm_mod module');
  if (!missing.length) return [];
  return [
    error(
      'lvm-missing',
      `${ctx.needs.lvm}, but ${ctx.image} has no ${missing.join(' and no ')}: the root device never appears ("Gave up waiting for root device" / dracut-initqueue timeout). Rebuild: ${fixCommand(ctx.generator, ctx.kernel.version, ctx.image, { storage: 'lvm' })}`,
    ),
  ];
};

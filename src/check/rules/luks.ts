import { error, type Rule } from '../findings.js';
import { fixCommand } from '../fix.js';
import { imageProgram } from '../programs.js';
import { moduleAvailable } from '../storage-support.js';

/** A root behind LUKS needs cryptsetup (or systemd-cryptsetup) and dm_crypt to be unlocked before it can be mounted. */
export const luksMissing: Rule = (ctx) => {
  if (!ctx.needs.luks) return [];
  const missing: string[] = [];
  if (!imageProgram(ctx.facts, 'cryptsetup') && !imageProgram(ctx.facts, 'systemd-cryptsetup')) missing.push('cryptsetup or systemd-cryptsetup program');
  if (!moduleAvailable(ctx, 'dm_crypt', 'CONFIG_DM_CRYPT')) missing.push('dm_crypt module');
  if (!missing.length) return [];
  return [
    error(
      'luks-missing',
      `${ctx.needs.luks}, but ${ctx.image} has no ${missing.join(' and no ')}: no passphrase prompt, and the root never appears. Rebuild: ${fixCommand(ctx.generator, ctx.kernel.version, ctx.image, { storage: 'luks' })}`,
    ),
  ];
};

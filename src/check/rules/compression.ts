import { error, type Rule } from '../findings.js';
import { fixCommand } from '../fix.js';

/** The CONFIG_RD_* symbol that lets the kernel unpack each compression (usr/Kconfig). */
const SYMBOL: Record<string, string> = { gzip: 'CONFIG_RD_GZIP', bzip2: 'CONFIG_RD_BZIP2', lzma: 'CONFIG_RD_LZMA', xz: 'CONFIG_RD_XZ', lzo: 'CONFIG_RD_LZO', lz4: 'CONFIG_RD_LZ4', zstd: 'CONFIG_RD_ZSTD' };

/** A segment whose compression the kernel was built without is "compression method X not configured": nothing of it is unpacked. */
export const compressionUnsupported: Rule = (ctx) => {
  const config = ctx.kernel.config;
  if (!config) return [];
  const supported = Object.keys(SYMBOL).filter((c) => config.get(SYMBOL[c]) === 'y');
  return ctx.facts.segments.flatMap((s) => {
    if (s.compression === 'none' || config.get(SYMBOL[s.compression]) === 'y') return [];
    const use = supported.includes('gzip') ? 'gzip' : supported[0];
    return [
      error(
        'compression-unsupported',
        `${ctx.image}: segment ${s.index} (offset ${s.offset}) is ${s.compression}-compressed, but ${ctx.kernel.configFrom} has no ${SYMBOL[s.compression]}=y ` +
          `(the kernel can unpack: ${supported.join(', ') || 'none'}); it would panic with "compression method ${s.compression} not configured". ` +
          (use ? `Rebuild with ${use}: ${fixCommand(ctx.generator, ctx.kernel.version, ctx.image, { compress: use })}` : 'Use a kernel with CONFIG_RD_GZIP=y'),
      ),
    ];
  });
};

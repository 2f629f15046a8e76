import { join } from 'node:path';
import { readElf } from '../../elf/elf.js';
import { resolveInView } from '../image-facts.js';
import { imageFileHead } from '../elf-closure.js';
import { error, type CheckContext, type Finding, type Rule } from '../findings.js';
import { fixCommand } from '../fix.js';

/** The PT_INTERP of an ELF in the image, when the image has the ELF's content. */
function loaderOf(ctx: CheckContext, path: string): string | undefined {
  const r = resolveInView(ctx.facts.entries, path);
  if (!r) return undefined;
  try {
    return readElf(join(ctx.facts.tree, r.path), '/' + r.path).interpreter;
  } catch {
    return undefined;
  }
}

/**
 * /init must start: a #! script needs its interpreter in the image, and an
 * ELF (the init itself or that interpreter) its PT_INTERP loader. Otherwise
 * the kernel's run_init_process fails with -ENOENT and it panics.
 */
export const initInterpreterMissing: Rule = (ctx) => {
  const head = imageFileHead(ctx.facts, 'init');
  if (!head) return [];
  const out: Finding[] = [];
  const fix = fixCommand(ctx.generator, ctx.kernel.version, ctx.image);
  let elfPath = 'init';
  let who = '/init';
  if (head[0] === 0x23 && head[1] === 0x21) {
    const line = head.subarray(2, head.indexOf(0x0a) < 0 ? head.length : head.indexOf(0x0a)).toString('utf8').trim();
    const interp = line.split(/[ \t]+/)[0] ?? '';
    const r = interp.startsWith('/') ? resolveInView(ctx.facts.entries, interp) : undefined;
    if (!r || r.entry.type !== 'file' || !(r.entry.perm & 0o111)) {
      return [error('init-interpreter-missing', `${ctx.image}: /init is a script for ${interp || '(no interpreter)'} (#!${line}), which is ${r ? 'not an executable file' : 'not in the image'}; the kernel cannot start /init and panics. Rebuild: ${fix}`)];
    }
    elfPath = interp;
    who = `${interp} (the #! interpreter of /init)`;
  }
  const loader = loaderOf(ctx, elfPath);
  if (loader && !resolveInView(ctx.facts.entries, loader)) {
    out.push(error('init-interpreter-missing', `${ctx.image}: ${who} needs the loader ${loader} (PT_INTERP), which is not in the image; /init cannot start and the kernel panics. Rebuild: ${fix}`));
  }
  return out;
};

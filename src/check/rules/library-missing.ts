import { error, type Rule } from '../findings.js';
import { fixCommand } from '../fix.js';
import type { ProgramError } from '../../elf/closure.js';
import type { ImageClosure } from '../elf-closure.js';

const list = (xs: string[], n = 3) => (xs.length <= n ? xs.join(', ') : `${xs.slice(0, n).join(', ')} and ${xs.length - n} more`);

/** Programs of the image whose libraries ld.so would not find inside the image: each fails with "error while loading shared libraries". */
export function libraryMissing(closure: ImageClosure): Rule {
  return (ctx) => {
    const fix = fixCommand(ctx.generator, ctx.kernel.version, ctx.image);
    return [
      ...closure.missing.map((m) =>
        error('library-missing', `${ctx.image}: library ${m.name} needed by ${list(m.neededBy)} is not in the image (searched ${m.searched.join(', ') || 'nothing'}); those programs fail with "error while loading shared libraries". Rebuild: ${fix}`),
      ),
      ...[...groupByCause(closure.errors, ctx.facts.tree)].map(([cause, programs]) => error('library-missing', `${ctx.image}: ${list(programs)}: ${cause}; ${programs.length > 1 ? 'they' : 'it'} cannot start. Rebuild: ${fix}`)),
    ];
  };
}

/** Programs that fail for the same reason (one missing loader) make one finding. */
function groupByCause(errors: ProgramError[], tree: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const e of errors) {
    const cause = e.message.replace(`${e.request}: `, '').replaceAll(` under root ${tree}`, ' in the image');
    out.set(cause, [...(out.get(cause) ?? []), e.request]);
  }
  return out;
}

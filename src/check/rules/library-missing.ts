import { error, type Rule } from '../findings.js';
import { fixCommand } from '../fix.js';
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
      ...closure.errors.map((e) => error('library-missing', `${ctx.image}: ${e.message.replaceAll(` under root ${ctx.facts.tree}`, ' in the image')}; that program cannot start. Rebuild: ${fix}`)),
    ];
  };
}

import { warning, type Rule } from '../findings.js';
import { fixCommand } from '../fix.js';

/** An image that lost more than a quarter of the previous kernel's image size usually lost a whole class of drivers or tools. */
export const imageShrank: Rule = (ctx) => {
  const prev = ctx.previous;
  const size = ctx.facts.segments.length ? ctx.facts.segments.at(-1)!.offset + ctx.facts.segments.at(-1)!.storedBytes : 0;
  if (!prev || size >= prev.size * 0.75) return [];
  const pct = Math.round((1 - size / prev.size) * 100);
  return [
    warning('image-shrank', `${ctx.image} (${size} bytes) is ${pct}% smaller than the previous kernel's ${prev.path} (${prev.size} bytes); compare them with rdrescue diff ${prev.path} ${ctx.image}, and rebuild if drivers or tools went missing: ${fixCommand(ctx.generator, ctx.kernel.version, ctx.image)}`),
  ];
};

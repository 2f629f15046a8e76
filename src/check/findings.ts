import type { ImageFacts } from './image-facts.js';
import type { KernelFacts } from './kernel.js';
import type { RootNeeds } from './target-needs.js';
import type { Generator } from './generator.js';

export type FindingLevel = 'error' | 'warning';

/** One reason the image may not boot this kernel and this root. */
export interface Finding {
  level: FindingLevel;
  code: string;
  /** Names the file, module or program, and says how to fix it. */
  message: string;
}

/** Everything a rule may look at; each is read once before any rule runs. */
export interface CheckContext {
  image: string;
  facts: ImageFacts;
  kernel: KernelFacts;
  needs: RootNeeds;
  generator?: Generator;
  /** The previous kernel's image next to this one, for the size comparison. */
  previous?: { path: string; size: number };
}

/** A rule looks at the context and returns its findings (none when all is well or when it lacks the facts to judge). */
export type Rule = (ctx: CheckContext) => Finding[];

export function error(code: string, message: string): Finding {
  return { level: 'error', code, message };
}

export function warning(code: string, message: string): Finding {
  return { level: 'warning', code, message };
}

import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { isMap, LineCounter, parseDocument, type Document } from 'yaml';
import { RdError, EXIT } from '../errors.js';
import { checkPassword } from '../rescue/passwd.js';
import { runbookSchema } from './schema.js';
import type { RunbookStep, StepKindName } from './steps.js';
import { validate, type SchemaError } from './validate.js';

/**
 * Reading a runbook: YAML or JSON (JSON is read by the same YAML 1.2
 * parser), checked against the published schema, errors as
 * FILE:LINE: FIELD: cause. Secrets named by password_file/password_env are
 * read here, while the file they sit next to is still reachable (at boot it
 * may be on a device that is unmounted right after).
 */
export interface Runbook {
  file: string;
  dir: string;
  target?: string;
  description?: string;
  steps: RunbookStep[];
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Where relative password_file paths start (default: the runbook's directory). */
  dir?: string;
  /**
   * The runbook travels alone (`inject --runbook` bakes only this file into
   * an image): password_file and password_env would name nothing at boot, so
   * they are refused and only hash: is accepted.
   */
  standalone?: boolean;
}

function fieldName(path: Array<string | number>): string {
  return path.reduce<string>((s, p) => (typeof p === 'number' ? `${s}[${p}]` : s ? `${s}.${p}` : p), '') || '(top level)';
}

function lineOf(doc: Document, lc: LineCounter, path: Array<string | number>): number {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : (doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined);
    // a field the schema refuses: point at its key, where the user typed it
    if (n === path.length && n > 0) {
      const parent = doc.getIn(path.slice(0, n - 1), true) ?? (n === 1 ? doc.contents : undefined);
      if (isMap(parent)) {
        const pair = parent.items.find((it) => (it.key as { value?: unknown } | null)?.value === path[n - 1]);
        const r = (pair?.key as { range?: [number, number, number] } | null)?.range;
        if (r) return lc.linePos(r[0]).line;
      }
    }
    const r = (node as { range?: [number, number, number] } | null | undefined)?.range;
    if (r) return lc.linePos(r[0]).line;
  }
  return 1;
}

export function parseRunbook(text: string, file: string, opts: LoadOptions = {}): Runbook {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true, strict: true });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) {
    const line = problem.linePos?.[0].line ?? lc.linePos(problem.pos[0]).line;
    throw new RdError(`${file}:${line}: not a valid runbook (YAML/JSON): ${problem.message.split('\n')[0]}`, {}, EXIT.badInput);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 50 });
  } catch (e) {
    throw new RdError(`${file}: not a valid runbook (YAML/JSON): ${(e as Error).message}`, {}, EXIT.badInput);
  }
  const errors: SchemaError[] = validate(runbookSchema(), value);
  if (errors.length) {
    const e = errors[0];
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more problem${errors.length > 2 ? 's' : ''})` : '';
    throw new RdError(`${file}:${lineOf(doc, lc, e.path)}: ${fieldName(e.path)}: ${e.message}${more}`, {}, EXIT.badInput);
  }
  const v = value as { target?: string; description?: string; steps: Array<Record<string, unknown>> };
  const dir = opts.dir ?? dirname(resolve(file));
  const env = opts.env ?? process.env;
  const steps = v.steps.map((s, index): RunbookStep => {
    const [kind, arg] = Object.entries(s)[0];
    const step: RunbookStep = { index, kind: kind as StepKindName, arg, line: lineOf(doc, lc, ['steps', index]) };
    const a = arg as { password_file?: string; password_env?: string };
    if (kind === 'passwd' && opts.standalone && (a.password_file !== undefined || a.password_env !== undefined)) {
      throw new RdError(`${file}:${step.line}: steps[${index}].passwd.${a.password_file !== undefined ? 'password_file' : 'password_env'}: a runbook baked into an image travels alone, without that ${a.password_file !== undefined ? 'file' : 'environment'}; use hash: (make one with rdrescue hash)`, {}, EXIT.badInput);
    }
    if (kind === 'passwd') step.secret = readSecret(arg as { password_file?: string; password_env?: string }, dir, env, `${file}:${step.line}: steps[${index}].passwd`);
    return step;
  });
  return { file, dir, target: v.target, description: v.description, steps };
}

function readSecret(a: { password_file?: string; password_env?: string }, dir: string, env: NodeJS.ProcessEnv, where: string): string | undefined {
  let pw: string;
  if (a.password_file !== undefined) {
    const p = isAbsolute(a.password_file) ? a.password_file : join(dir, a.password_file);
    try {
      pw = readFileSync(p, 'utf8').replace(/\r?\n$/, '');
    } catch (e) {
      throw new RdError(`${where}.password_file: cannot read ${p} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, {}, EXIT.badInput);
    }
  } else if (a.password_env !== undefined) {
    const val = env[a.password_env];
    if (val === undefined) throw new RdError(`${where}.password_env: the environment has no ${a.password_env}`, {}, EXIT.badInput);
    pw = val;
  } else return undefined;
  try {
    checkPassword(pw);
  } catch (e) {
    throw new RdError(`${where}: ${(e as Error).message}`, {}, EXIT.badInput);
  }
  return pw;
}

export function loadRunbook(file: string, opts: LoadOptions = {}): Runbook {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new RdError(`cannot read the runbook (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { file }, EXIT.usage);
  }
  return parseRunbook(text, file, opts);
}


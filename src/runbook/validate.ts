/**
 * A JSON Schema (draft 2020-12) validator for exactly the keywords the
 * runbook schema uses. It refuses a schema with any other keyword, so the
 * published schema can never say something this validator silently ignores:
 * the schema in schema/runbook.schema.json and the checks run here are one
 * object (see schema.ts).
 */
export type JsonSchema = boolean | { [keyword: string]: unknown };

export interface SchemaError {
  /** Where in the document: keys and array indexes. */
  path: Array<string | number>;
  message: string;
}

const ANNOTATIONS = new Set(['$schema', '$id', 'title', 'description', 'default', 'examples']);
const ASSERTIONS = new Set(['type', 'const', 'enum', 'properties', 'required', 'additionalProperties', 'propertyNames', 'minProperties', 'maxProperties', 'items', 'minItems', 'pattern', 'minLength', 'oneOf', 'not']);

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function typeMatches(want: string, v: unknown): boolean {
  const t = typeOf(v);
  return t === want || (want === 'number' && t === 'integer');
}

function show(v: unknown): string {
  return JSON.stringify(v);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeOf(v) === 'object';
}

/** Every keyword of `schema` (recursively) is one this validator implements. */
export function checkSchemaKeywords(schema: JsonSchema, where = '#'): void {
  if (typeof schema === 'boolean') return;
  for (const [k, v] of Object.entries(schema)) {
    if (ANNOTATIONS.has(k)) continue;
    if (!ASSERTIONS.has(k)) throw new Error(`schema ${where}: keyword ${k} is not implemented by the runbook validator`);
    if (k === 'properties') for (const [p, s] of Object.entries(v as Record<string, JsonSchema>)) checkSchemaKeywords(s, `${where}/properties/${p}`);
    if (k === 'oneOf') (v as JsonSchema[]).forEach((s, i) => checkSchemaKeywords(s, `${where}/oneOf/${i}`));
    if (k === 'items' || k === 'not' || k === 'propertyNames' || (k === 'additionalProperties' && typeof v === 'object')) checkSchemaKeywords(v as JsonSchema, `${where}/${k}`);
  }
}

/** Branches that only say "this key is present" read better as "exactly one of". */
function requiredNames(branches: JsonSchema[]): string[] | undefined {
  const names: string[] = [];
  for (const b of branches) {
    if (typeof b !== 'object' || Object.keys(b).length !== 1 || !Array.isArray(b.required) || b.required.length !== 1) return undefined;
    names.push(String(b.required[0]));
  }
  return names;
}

export function validate(schema: JsonSchema, value: unknown, path: Array<string | number> = []): SchemaError[] {
  if (schema === true) return [];
  if (schema === false) return [{ path, message: 'is not allowed here' }];
  const s = schema;
  const errors: SchemaError[] = [];
  const err = (message: string, at = path) => errors.push({ path: at, message });
  if (typeof s.type === 'string' && !typeMatches(s.type, value)) {
    err(`must be ${s.type === 'object' ? 'a mapping (key: value)' : s.type === 'array' ? 'a list' : `a ${s.type}`}, not ${typeOf(value) === 'null' ? 'empty' : `${typeOf(value)} ${show(value)}`}`);
    return errors;
  }
  if ('const' in s && show(s.const) !== show(value)) err(`must be ${show(s.const)}, not ${show(value)}`);
  if (Array.isArray(s.enum) && !s.enum.some((e) => show(e) === show(value))) err(`must be one of ${s.enum.map(show).join(', ')}, not ${show(value)}`);
  if (typeof value === 'string') {
    if (typeof s.minLength === 'number' && [...value].length < s.minLength) err(s.minLength === 1 ? 'must not be empty' : `must be at least ${s.minLength} characters`);
    if (typeof s.pattern === 'string' && !new RegExp(s.pattern, 'u').test(value)) err(typeof s.description === 'string' ? `${show(value)} is not valid: ${s.description}` : `${show(value)} does not match ${s.pattern}`);
  }
  if (isObject(value)) {
    const props = (s.properties ?? {}) as Record<string, JsonSchema>;
    for (const [k, v] of Object.entries(value)) {
      if (s.propertyNames !== undefined && validate(s.propertyNames as JsonSchema, k).length) {
        const names = (s.propertyNames as { enum?: unknown[] }).enum;
        err(`unknown ${show(k)}${names ? `; expected one of: ${names.join(', ')}` : ''}`, [...path, k]);
        continue;
      }
      if (Object.hasOwn(props, k)) errors.push(...validate(props[k], v, [...path, k]));
      else if (s.additionalProperties === false) err(`unknown field ${show(k)}${Object.keys(props).length ? `; expected: ${Object.keys(props).join(', ')}` : ''}`, [...path, k]);
      else if (typeof s.additionalProperties === 'object') errors.push(...validate(s.additionalProperties as JsonSchema, v, [...path, k]));
    }
    for (const r of (s.required ?? []) as string[]) if (!Object.hasOwn(value, r)) err(`missing field ${show(r)}`);
    const n = Object.keys(value).length;
    if (typeof s.minProperties === 'number' && n < s.minProperties) err(`needs at least ${s.minProperties} field${s.minProperties === 1 ? '' : 's'}`);
    if (typeof s.maxProperties === 'number' && n > s.maxProperties) err(`has ${n} fields (${Object.keys(value).join(', ')}); only ${s.maxProperties} allowed`);
  }
  if (Array.isArray(value)) {
    if (typeof s.minItems === 'number' && value.length < s.minItems) err(`needs at least ${s.minItems} item${s.minItems === 1 ? '' : 's'}`);
    if (s.items !== undefined) value.forEach((v, i) => errors.push(...validate(s.items as JsonSchema, v, [...path, i])));
  }
  if (Array.isArray(s.oneOf)) {
    const ok = s.oneOf.filter((b) => validate(b as JsonSchema, value, path).length === 0).length;
    if (ok !== 1) {
      const names = requiredNames(s.oneOf as JsonSchema[]);
      err(names ? `needs exactly one of: ${names.join(', ')}` : `matches ${ok} of the ${s.oneOf.length} alternatives; exactly one is allowed`);
    }
  }
  if (s.not !== undefined && validate(s.not as JsonSchema, value, path).length === 0) err(typeof s.description === 'string' ? s.description : 'is not allowed');
  return errors;
}

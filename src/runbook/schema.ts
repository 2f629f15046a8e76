import { STEP_KINDS } from './steps.js';
import type { JsonSchema } from './validate.js';

/**
 * The published JSON Schema of a runbook (schema/runbook.schema.json, and
 * `rdrescue plan --schema`), assembled from the step table so the schema,
 * the validator's input and the steps rdrescue can run are one list.
 */
export const RUNBOOK_SCHEMA_ID = 'https://rdrescue.dev/schema/runbook.schema.json';

export function runbookSchema(): Exclude<JsonSchema, boolean> {
  const names = Object.keys(STEP_KINDS);
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: RUNBOOK_SCHEMA_ID,
    title: 'rdrescue runbook',
    description: 'What to fix on a broken Linux root, step by step: `rdrescue plan RUNBOOK` shows it, `rdrescue run RUNBOOK` applies it.',
    type: 'object',
    properties: {
      $schema: { type: 'string' },
      version: { const: 1, description: 'the runbook format version' },
      description: { type: 'string' },
      target: { type: 'string', pattern: '^(auto|/.*)$', description: 'auto (the detected root: /sysroot, /root, /new_root, or / under init=) or an absolute path; --root overrides it' },
      steps: {
        type: 'array',
        minItems: 1,
        description: 'applied in order; the run stops at the first failure',
        items: {
          type: 'object',
          description: `one step: a mapping with exactly one of ${names.join(', ')}`,
          minProperties: 1,
          maxProperties: 1,
          propertyNames: { enum: names },
          properties: Object.fromEntries(Object.entries(STEP_KINDS).map(([k, v]) => [k, v.schema])),
        },
      },
    },
    required: ['version', 'steps'],
    additionalProperties: false,
  };
}

// The published schema and the validator cannot drift: the schema file is
// what `rdrescue plan --schema` prints (built from the step table), the
// validator refuses any keyword it does not implement, and every fixture
// gets the same verdict from it and from an independent implementation
// (python3-jsonschema, Draft 2020-12).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { rdrescue } from '../helpers/cli.js';
import { checkSchemaKeywords, runbookSchema, validate } from '../../src/index.js';
import { RUNBOOKS } from './helpers.js';

const SCHEMA_FILE = join(import.meta.dirname, '..', '..', 'schema', 'runbook.schema.json');

t.test('schema/runbook.schema.json is exactly what the step table generates', async (t) => {
  const printed = rdrescue(['plan', '--schema']);
  t.equal(printed.status, 0);
  t.equal(readFileSync(SCHEMA_FILE, 'utf8'), printed.stdout, 'regenerate with: node dist/rdrescue.cjs plan --schema > schema/runbook.schema.json');
  t.same(JSON.parse(printed.stdout), runbookSchema());
});

t.test('the validator implements every keyword the schema uses, and refuses a schema with one it does not', async (t) => {
  t.doesNotThrow(() => checkSchemaKeywords(runbookSchema()));
  t.throws(() => checkSchemaKeywords({ type: 'object', properties: { a: { type: 'string', format: 'email' } } }), /keyword format is not implemented/);
});

function fixtures(): string[] {
  const top = readdirSync(RUNBOOKS).filter((f) => /\.(ya?ml|json)$/.test(f)).map((f) => join(RUNBOOKS, f));
  const hostile = readdirSync(join(RUNBOOKS, 'hostile')).map((f) => join(RUNBOOKS, 'hostile', f));
  return [...top, ...hostile];
}

const hasJsonschema = spawnSync('python3', ['-c', 'import jsonschema']).status === 0;

t.test('every fixture: our validator and python3-jsonschema agree', { skip: hasJsonschema ? false : 'python3-jsonschema is not installed (apt-get install python3-jsonschema)' }, async (t) => {
  const docs: Record<string, unknown> = {};
  for (const f of fixtures()) {
    const doc = parseDocument(readFileSync(f, 'utf8'), { uniqueKeys: false });
    docs[f] = doc.toJS();
  }
  const script = `
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
docs = json.load(sys.stdin)
print(json.dumps({f: v.is_valid(d) for f, d in docs.items()}))
`;
  const r = spawnSync('python3', ['-c', script, SCHEMA_FILE], { input: JSON.stringify(docs), encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  const theirs = JSON.parse(r.stdout) as Record<string, boolean>;
  for (const [f, doc] of Object.entries(docs)) {
    const ours = validate(runbookSchema(), doc).length === 0;
    t.equal(ours, theirs[f], `${f.slice(RUNBOOKS.length + 1)}: ${ours ? 'valid' : 'invalid'} for both`);
  }
  // the fixtures are a real mix: the good ones pass, the malformed hostile ones fail
  t.ok(theirs[join(RUNBOOKS, 'rescue.yaml')] && theirs[join(RUNBOOKS, 'rescue.json')]);
  for (const bad of ['unknown-step.yaml', 'bad-type.yaml', 'plain-password.yaml', 'plain-password.json', 'two-steps-in-one.yaml', 'mode-unquoted.yaml']) t.notOk(theirs[join(RUNBOOKS, 'hostile', bad)], `${bad} invalid`);
});

t.test('error messages name the field and what is expected', async (t) => {
  const s = runbookSchema();
  const first = (doc: unknown) => validate(s, doc)[0];
  t.same(first({ steps: [{ remount: 'rw' }] }), { path: [], message: 'missing field "version"' });
  t.same(first({ version: 2, steps: [{ remount: 'rw' }] }).message, 'must be 1, not 2');
  t.same(first({ version: 1, steps: [] }).message, 'needs at least 1 item');
  t.same(first({ version: 1, steps: [{ remount: 'rws' }] }), { path: ['steps', 0, 'remount'], message: 'must be one of "rw", "ro", not "rws"' });
  t.same(first({ version: 1, steps: [{ fstab: {} }] }).message, 'needs at least 1 field');
  t.same(first({ version: 1, steps: [{ write: { path: 'etc/motd', content: '' } }] }).message, '"etc/motd" is not valid: an absolute path inside the target');
  t.same(first({ version: 1, steps: [{ chroot: { run: [] } }] }), { path: ['steps', 0, 'chroot', 'run'], message: 'needs at least 1 item' });
  t.same(first({ version: 1, nope: 1, steps: [{ relabel: 'auto' }] }).path, ['nope']);
});

// Run by the build under Node 24: compiles dist/rdrescue.cjs as
// scripts/sea-main.cjs does, runs a few commands on the example image and on
// the warm-up images (build.mjs: warmUpImages) so V8 compiles what they call,
// then writes the code cache, which then holds those functions too.
// Usage: node code-cache.cjs BUNDLE OUT SCRATCH IMAGE [WARM-UP IMAGE...]
// (stdout unused; SCRATCH is a directory extract may create).
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const { Script } = require('node:vm');
const { dirname } = require('node:path');
const { wrap } = require('./sea-main.cjs');

const [bundle, out, scratch, image, ...warmUp] = process.argv.slice(2);
const source = readFileSync(bundle, 'utf8');
const script = new Script(wrap(source), { filename: bundle });

const [first, ...more] = [
  ['ls', '-l', image],
  ['info', image],
  ['ls', image],
  ['extract', '--help'],
  ...warmUp.map((i) => ['ls', i]),
  ...warmUp.slice(0, 1).map((i) => ['extract', i, scratch]),
];
// The bundle runs the first command itself and ends it with process.exit (src/cli.ts: finish): the others follow then.
const exit = process.exit;
let firstDone;
process.exit = () => firstDone();
new Promise((resolve) => (firstDone = resolve)).then(async () => {
  for (const args of more) await module_.exports.main(args);
  writeFileSync(out, script.createCachedData());
  exit(0);
});
process.argv = [process.argv[0], bundle, ...first];
const module_ = { exports: {} };
script.runInThisContext()(module_.exports, require, module_, bundle, dirname(bundle));

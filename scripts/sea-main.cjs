// The single executable's entry point. It runs dist/rdrescue.cjs (an SEA
// asset) with a V8 code cache made after a warm-up run (scripts/code-cache.cjs):
// Node's own SEA code cache holds only what V8 compiles before the script
// runs, so every function a command calls was compiled afresh at each start.
'use strict';
const sea = require('node:sea');
const { Script } = require('node:vm');
const { dirname } = require('node:path');

/** The CommonJS wrapper the bundle runs in; code-cache.cjs compiles the same (V8 takes a cache only for the same source). */
function wrap(source) {
  return `(function (exports, require, module, __filename, __dirname) {${source.replace(/^#!.*/, '')}\n})`;
}

if (sea.isSea()) {
  const filename = process.execPath;
  const script = new Script(wrap(sea.getAsset('rdrescue.cjs', 'utf8')), { filename, cachedData: Buffer.from(sea.getRawAsset('code-cache')) });
  // The build checks that V8 takes the cache: a cache it rejects costs a full compile at every start.
  if (process.env.RDRESCUE_CODE_CACHE_CHECK) process.stderr.write(`code cache ${script.cachedDataRejected ? 'rejected' : 'accepted'}\n`);
  const module_ = { exports: {} };
  script.runInThisContext()(module_.exports, require, module_, filename, dirname(filename));
} else {
  module.exports = { wrap };
}

// The single executable runs on Node 24, whose node:zlib has zstd: a different
// decoder path from the one the suite takes on Node 20 (src/compression/zstd.ts).
// The decoder, backpressure and buffer-pool tests run again on it, whole, and the
// inflate that drives node:zlib's native handle (src/compression/zlib-handle.ts).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..');
const node24 = join(root, 'node_modules', 'node24', 'bin', 'node');

for (const file of ['decoders.test.ts', 'backpressure.test.ts', 'buffers.test.ts', 'zstd-paths.test.ts', 'inflate-ahead.test.ts']) {
  t.test(`test/compression/${file} passes on Node 24`, { skip: !existsSync(node24) && 'node_modules/node24 missing (npm ci installs it)' }, async (t) => {
    // A tap test file is a program of its own: run directly, it prints TAP and exits non-zero on a failure.
    const r = spawnSync(node24, ['--import', 'tsx', join(root, 'test/compression', file)], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 28, env: { ...process.env, TAP: '1' } });
    const failures = r.stdout.split('\n').filter((l) => /^\s*not ok /.test(l));
    t.same(failures, [], 'no failed assertion');
    t.equal(r.status, 0, r.stderr.split('\n').slice(-5).join('\n'));
    t.match(r.stdout, /^1\.\.\d+$/m, 'ran to its end (the plan line)');
  });
}

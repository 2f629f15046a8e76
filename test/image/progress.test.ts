import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUNDLE } from '../helpers/cli.js';
import { mkinitramfsImage } from '../helpers/real-images.js';

// A real image (mkinitramfs, zstd, 35 MB unpacked) read by the pure-JavaScript zstd decoder (--no-native, about
// 20 MB/s here). How long the run lasts depends on the machine, so the redraw test shows the line from the start
// (RDRESCUE_PROGRESS_AFTER_MS=0) in every test here: a run of a few tenths of a second still draws it several
// times, and the runs that must show none would show it at once if they did.
const AT_ONCE = { RDRESCUE_PROGRESS_AFTER_MS: '0' };
const BIG = mkinitramfsImage();
const dir = mkdtempSync(join(tmpdir(), 'rdrescue-progress-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/** Runs the CLI with stdout and stderr on a terminal (script(1) gives it a pty) and returns what the terminal got. */
function onTerminal(args: string[]): string {
  const cmd = [process.execPath, BUNDLE, ...args].map((a) => `'${a}'`).join(' ');
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', env: { ...process.env, ...AT_ONCE, COLUMNS: '120' } });
  if (r.status !== 0) throw new Error(`script exited ${r.status}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

t.test('extract on a terminal shows progress in place: bytes of the image, a percentage, the rate; erased at the end', async (t) => {
  const out = onTerminal(['extract', '--no-native', BIG, join(dir, `x${n++}`)]);
  const lines = out.split('\r').filter((l) => l.startsWith('rdrescue: reading'));
  t.ok(lines.length >= 2, `redrawn in place (${lines.length} times)`);
  t.match(lines[0], /^rdrescue: reading [^:]+\.img: \d+% of \d+\.\d MiB, \d+\.\d MiB\/s\x1b\[K$/);
  const pcts = lines.map((l) => Number(/(\d+)% of/.exec(l)![1]));
  t.ok(pcts.every((p, i) => i === 0 || p >= pcts[i - 1]), `the percentage only grows: ${pcts}`);
  t.ok(out.endsWith('\r\x1b[K'), 'the line is erased at the end');
});

t.test('the same run with stderr piped prints nothing on stderr', async (t) => {
  const r = spawnSync(process.execPath, [BUNDLE, 'extract', '--no-native', BIG, join(dir, `x${n++}`)], { encoding: 'utf8', env: { ...process.env, ...AT_ONCE } });
  t.equal(r.status, 0);
  t.equal(r.stderr, '');
});

t.test('no progress with --json, even on a terminal', async (t) => {
  const out = onTerminal(['extract', '--no-native', '--json', BIG, join(dir, `x${n++}`)]);
  t.notMatch(out, /rdrescue: reading/);
  t.match(out, /^\{/);
});

t.test('repack on a terminal shows the bytes written', async (t) => {
  const tree = join(dir, 'tree');
  t.equal(spawnSync(process.execPath, [BUNDLE, 'extract', BIG, tree]).status, 0);
  const out = onTerminal(['repack', tree, '-o', join(dir, 'new.img'), '--compress', 'gzip', '--level', '9']);
  t.match(out, /\rrdrescue: writing new\.img: \d+\.\d MiB, \d+\.\d MiB\/s\x1b\[K/);
  t.match(out, /\r\x1b\[Krdrescue: \S+: \d+ entries/, 'erased before the report');
});

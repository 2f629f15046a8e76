// npm run bench: rdrescue against its peers on the same images, in one run.
// Prints median wall time, peak RSS and the ratio to the fastest peer. Timing
// goals live here, never in the tests. BENCH_RUNS sets the repetitions.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { distributionImage, recompressed } from '../test/helpers/real-images.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const SEA = join(root, 'dist/rdrescue');
const BUNDLE = join(root, 'dist/rdrescue.cjs');
if (!existsSync(SEA) || !existsSync(BUNDLE)) {
  console.error('bench: run `npm run build` first (needs dist/rdrescue and dist/rdrescue.cjs)');
  process.exit(2);
}
const scratch = mkdtempSync(join(tmpdir(), 'rdrescue-bench-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

interface Result {
  label: string;
  median: number;
  peakKiB: number;
  ok: boolean;
}

/** Runs `cmd` (a shell line) RUNS times after one warm-up; `before` resets state (e.g. removes the extraction dir). */
function measure(label: string, cmd: string, before?: () => void): Result {
  const times: number[] = [];
  let peak = 0;
  let ok = true;
  for (let i = 0; i <= RUNS; i++) {
    before?.();
    const t0 = process.hrtime.bigint();
    const r = spawnSync('/usr/bin/time', ['-f', '@@%M', 'sh', '-c', cmd], { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26 });
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    const err = r.stderr.toString();
    const m = /@@(\d+)\s*$/.exec(err);
    if (r.status !== 0) ok = false;
    if (i === 0) continue; // warm-up: page cache, code cache
    times.push(dt);
    if (m) peak = Math.max(peak, Number(m[1]));
  }
  times.sort((a, b) => a - b);
  return { label, median: times[Math.floor(times.length / 2)], peakKiB: peak, ok };
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const out = join(scratch, 'out');
const clean = () => rmSync(out, { recursive: true, force: true });

function table(title: string, ours: Result[], peers: Result[], floor?: Result): void {
  const valid = peers.filter((p) => p.ok);
  const fastest = valid.reduce((a, b) => (b.median < a.median ? b : a), valid[0]);
  console.log(`\n## ${title}`);
  console.log('| command | median s | peak RSS MiB | vs fastest peer |');
  console.log('|---|---:|---:|---:|');
  const row = (r: Result) =>
    console.log(`| ${r.label}${r.ok ? '' : ' (FAILED)'} | ${r.median.toFixed(3)} | ${(r.peakKiB / 1024).toFixed(0)} | ${fastest ? (r.median / fastest.median).toFixed(2) + 'x' : '-'} |`);
  for (const r of [...ours, ...peers]) row(r);
  if (floor) row({ ...floor, label: `floor: ${floor.label}` });
  if (fastest) console.log(`fastest peer: ${fastest.label}`);
}

const images: Array<{ name: string; path: string; dc: string }> = [
  { name: 'distribution image (zstd)', path: distributionImage(), dc: 'zstd -dc' },
  { name: 'distribution image recompressed with gzip', path: recompressed('gzip'), dc: 'pigz -dc' },
  { name: 'distribution image recompressed with xz', path: recompressed('xz'), dc: 'xz -dc' },
];

console.log(`# rdrescue bench (${RUNS} runs each after a warm-up; ${new Date().toISOString()})`);
const node24 = join(root, 'node_modules/node24/bin/node');
console.log(`npm package on system node ${execFileSync('node', ['--version']).toString().trim()}; single executable built from node ${existsSync(node24) ? execFileSync(node24, ['--version']).toString().trim() : '24'}`);

for (const img of images) {
  const p = q(img.path);
  const size = statSync(img.path).size;
  console.log(`\n# ${img.name}: ${img.path} (${(size / 1048576).toFixed(1)} MiB)`);
  table(
    `ls: ${img.name}`,
    [measure('rdrescue ls (single executable)', `${q(SEA)} ls ${p} > /dev/null`), measure('rdrescue ls (npm package, system node)', `node ${q(BUNDLE)} ls ${p} > /dev/null`)],
    [
      measure('bsdtar -tf', `bsdtar -tf ${p} > /dev/null`),
      measure(`${img.dc} | cpio -t`, `${img.dc} ${p} | cpio -t --quiet > /dev/null`),
      measure('lsinitramfs', `lsinitramfs ${p} > /dev/null`),
      measure('lsinitrd', `lsinitrd ${p} > /dev/null`),
    ],
    measure(`${img.dc} > /dev/null`, `${img.dc} ${p} > /dev/null`),
  );
  table(
    `extract: ${img.name}`,
    [measure('rdrescue extract (single executable)', `${q(SEA)} extract ${p} ${q(out)}`, clean), measure('rdrescue extract (npm package, system node)', `node ${q(BUNDLE)} extract ${p} ${q(out)}`, clean)],
    [
      measure('bsdtar -xf', `mkdir -p ${q(out)} && bsdtar -xf ${p} -C ${q(out)}`, clean),
      measure(`${img.dc} | cpio -idm`, `mkdir -p ${q(out)} && ${img.dc} ${p} | (cd ${q(out)} && cpio -idm --quiet)`, clean),
      measure('unmkinitramfs', `unmkinitramfs ${p} ${q(out)}`, clean),
      measure('lsinitrd --unpack', `mkdir -p ${q(out)} && cd ${q(out)} && lsinitrd --unpack ${p}`, clean),
    ],
    measure(`${img.dc} > /dev/null`, `${img.dc} ${p} > /dev/null`),
  );
}

console.log('\n## single executable');
const start = measure('rdrescue --version (single executable)', `${q(SEA)} --version > /dev/null`);
const startNode = measure('node dist/rdrescue.cjs --version', `node ${q(BUNDLE)} --version > /dev/null`);
const bare = measure('node -e 0', 'node -e 0');
console.log(`| startup | median s |\n|---|---:|\n| ${start.label} | ${start.median.toFixed(3)} |\n| ${startNode.label} | ${startNode.median.toFixed(3)} |\n| ${bare.label} | ${bare.median.toFixed(3)} |`);
console.log(`size of dist/rdrescue: ${(statSync(SEA).size / 1048576).toFixed(1)} MiB`);

for (const extra of ['codecs.ts', 'repack.ts']) {
  const p = join(root, 'bench', extra);
  if (existsSync(p)) {
    console.log(`\n# bench/${extra}`);
    spawnSync(process.execPath, ['--import', 'tsx', p], { stdio: 'inherit' });
  }
}

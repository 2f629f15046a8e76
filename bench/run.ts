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

interface Case {
  label: string;
  /** A shell line. */
  cmd: string;
}

/**
 * Runs every case RUNS times after one warm-up round, in rounds (each case
 * once per round) so that a slow spell of the machine or of its disk's
 * writeback hits all of them alike. `before` resets state (the extraction
 * dir), and `sync` then settles the previous run's writeback outside the
 * timing.
 */
function measure(cases: Case[], before?: () => void): Result[] {
  const times = cases.map(() => [] as number[]);
  const peak = cases.map(() => 0);
  const ok = cases.map(() => true);
  for (let i = 0; i <= RUNS; i++) {
    cases.forEach((c, k) => {
      before?.();
      spawnSync('sync');
      const t0 = process.hrtime.bigint();
      const r = spawnSync('/usr/bin/time', ['-f', '@@%M', 'sh', '-c', c.cmd], { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26 });
      const dt = Number(process.hrtime.bigint() - t0) / 1e9;
      const m = /@@(\d+)\s*$/.exec(r.stderr.toString());
      if (r.status !== 0) ok[k] = false;
      if (i === 0) return; // warm-up: page cache, code cache
      times[k]!.push(dt);
      if (m) peak[k] = Math.max(peak[k]!, Number(m[1]));
    });
  }
  return cases.map((c, k) => {
    const t = times[k]!.sort((a, b) => a - b);
    return { label: c.label, median: t[Math.floor(t.length / 2)]!, peakKiB: peak[k]!, ok: ok[k]! };
  });
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
  { name: 'distribution image recompressed with xz (mkinitramfs: --check=crc32 --threads=0)', path: recompressed('xz'), dc: 'xz -T0 -dc' },
];

console.log(`# rdrescue bench (${RUNS} runs each after a warm-up; ${new Date().toISOString()})`);
const node24 = join(root, 'node_modules/node24/bin/node');
console.log(`npm package on system node ${execFileSync('node', ['--version']).toString().trim()}; single executable built from node ${existsSync(node24) ? execFileSync(node24, ['--version']).toString().trim() : '24'}`);

/** Ours first, then the peers, then the floor: measured together, in rounds. */
function compare(title: string, ours: Case[], peers: Case[], floor: Case, before?: () => void): void {
  const r = measure([...ours, ...peers, floor], before);
  table(title, r.slice(0, ours.length), r.slice(ours.length, -1), r[r.length - 1]);
}

for (const img of images) {
  const p = q(img.path);
  const size = statSync(img.path).size;
  console.log(`\n# ${img.name}: ${img.path} (${(size / 1048576).toFixed(1)} MiB)`);
  const floor = { label: `${img.dc} > /dev/null`, cmd: `${img.dc} ${p} > /dev/null` };
  compare(
    `ls: ${img.name}`,
    [
      { label: 'rdrescue ls (single executable)', cmd: `${q(SEA)} ls ${p} > /dev/null` },
      { label: 'rdrescue ls (npm package, system node)', cmd: `node ${q(BUNDLE)} ls ${p} > /dev/null` },
    ],
    [
      { label: 'bsdtar -tf', cmd: `bsdtar -tf ${p} > /dev/null` },
      { label: `${img.dc} | cpio -t`, cmd: `${img.dc} ${p} | cpio -t --quiet > /dev/null` },
      { label: 'lsinitramfs', cmd: `lsinitramfs ${p} > /dev/null` },
      { label: 'lsinitrd', cmd: `lsinitrd ${p} > /dev/null` },
    ],
    floor,
  );
  compare(
    `extract: ${img.name}`,
    [
      { label: 'rdrescue extract (single executable)', cmd: `${q(SEA)} extract ${p} ${q(out)}` },
      { label: 'rdrescue extract (npm package, system node)', cmd: `node ${q(BUNDLE)} extract ${p} ${q(out)}` },
    ],
    [
      { label: 'bsdtar -xf', cmd: `mkdir -p ${q(out)} && bsdtar -xf ${p} -C ${q(out)}` },
      { label: `${img.dc} | cpio -idm`, cmd: `mkdir -p ${q(out)} && ${img.dc} ${p} | (cd ${q(out)} && cpio -idm --quiet)` },
      { label: 'unmkinitramfs', cmd: `unmkinitramfs ${p} ${q(out)}` },
      { label: 'lsinitrd --unpack', cmd: `mkdir -p ${q(out)} && cd ${q(out)} && lsinitrd --unpack ${p}` },
    ],
    floor,
    clean,
  );
}

// check reads the image once, as ls does, plus the ELF closure of its programs (issue 15: goal under 2x ls).
console.log('\n## check vs ls of the distribution image');
{
  const p = q(distributionImage());
  const [ls, check] = measure([
    { label: 'rdrescue ls', cmd: `${q(SEA)} ls ${p} > /dev/null` },
    { label: 'rdrescue check', cmd: `${q(SEA)} check ${p} > /dev/null` },
  ]) as [Result, Result];
  console.log(`| command | median s | peak RSS MiB |\n|---|---:|---:|\n| ${ls.label} | ${ls.median.toFixed(3)} | ${(ls.peakKiB / 1024).toFixed(0)} |\n| ${check.label}${check.ok ? '' : ' (FAILED)'} | ${check.median.toFixed(3)} | ${(check.peakKiB / 1024).toFixed(0)} |`);
  console.log(`check / ls: ${(check.median / ls.median).toFixed(2)}x (goal: under 2x)`);
}

console.log('\n## single executable');
const [start, startNode, bare] = measure([
  { label: 'rdrescue --version (single executable)', cmd: `${q(SEA)} --version > /dev/null` },
  { label: 'node dist/rdrescue.cjs --version', cmd: `node ${q(BUNDLE)} --version > /dev/null` },
  { label: 'node -e 0', cmd: 'node -e 0' },
]) as [Result, Result, Result];
console.log(`| startup | median s |\n|---|---:|\n| ${start.label} | ${start.median.toFixed(3)} |\n| ${startNode.label} | ${startNode.median.toFixed(3)} |\n| ${bare.label} | ${bare.median.toFixed(3)} |`);
console.log(`size of dist/rdrescue: ${(statSync(SEA).size / 1048576).toFixed(1)} MiB`);

for (const extra of ['codecs.ts', 'repack.ts']) {
  const p = join(root, 'bench', extra);
  if (existsSync(p)) {
    console.log(`\n# bench/${extra}`);
    spawnSync(process.execPath, ['--import', 'tsx', p], { stdio: 'inherit' });
  }
}

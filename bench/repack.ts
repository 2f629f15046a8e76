// Repack timing: `rdrescue repack` against the pipelines the generators use
// to pack the same tree.
//
//   node --import tsx bench/repack.ts [--runs 3] [--image /boot/initrd.img-…] [--groups gzip,zstd]
//
// The tree is the distribution initramfs extracted once (rdrescue extract) into
// $RDRESCUE_BENCH_DIR (default $TMPDIR/rdrescue-repack-bench). Peers:
//   - initramfs-tools: find . | LC_ALL=C sort | cpio -o -H newc | COMPRESSOR
//   - dracut: find . -print0 | sort -z | cpio --null -R 0:0 -H newc -o | COMPRESSOR
//     with dracut's own compressor lines (pigz -9 -n -T -R, zstd -15 -q -T0);
//     dracut itself cannot be pointed at an existing tree, so its packing step
//     is run exactly as /usr/bin/dracut runs it.
// Each rdrescue run uses the same level as the peer it is compared with.
// Prints the median wall time of each, the output size, and rdrescue's ratio
// to the fastest peer (goal: <= 1.0x).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};
const RUNS = Number(arg('runs', '3'));
/** Only the groups whose title starts with one of these (e.g. --groups zstd). */
const ONLY = arg('groups', '').split(',').filter(Boolean);
const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const cli = join(root, 'dist', 'rdrescue.cjs');
const dir = process.env.RDRESCUE_BENCH_DIR ?? join(tmpdir(), 'rdrescue-repack-bench');
const image = arg('image', `/boot/${readdirSync('/boot').filter((n) => n.startsWith('initrd.img-')).sort().pop()}`);

if (!existsSync(cli)) execFileSync(process.execPath, [join(root, 'scripts/build.mjs'), '--bundle-only'], { stdio: 'inherit' });
const tree = join(dir, 'tree');
if (!existsSync(tree)) {
  mkdirSync(dir, { recursive: true });
  execFileSync(process.execPath, [cli, 'extract', image, tree], { stdio: 'inherit' });
}
const out = join(dir, 'out.img');

interface Case {
  name: string;
  /** Shell command run with cwd = the tree. */
  cmd: string;
  ours: boolean;
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const rd = (args: string) => `${q(process.execPath)} ${q(cli)} repack . -o ${q(out)} ${args}`;
const itools = (c: string) => `find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | ${c} > ${q(out)}`;
const dracut = (c: string) => `find . -print0 | sort -z | cpio --null -R 0:0 -H newc -o --quiet | ${c} > ${q(out)}`;

const groups: Array<{ title: string; cases: Case[] }> = [
  {
    title: 'gzip -6',
    cases: [
      { name: 'rdrescue repack --compress gzip --level 6', cmd: rd('--compress gzip --level 6 --owner 0:0'), ours: true },
      { name: 'find | sort | cpio | gzip -6 -n', cmd: itools('gzip -6 -n'), ours: false },
      { name: 'find | sort | cpio | pigz -6 -n', cmd: itools('pigz -6 -n'), ours: false },
    ],
  },
  {
    title: 'gzip -9 (dracut)',
    cases: [
      { name: 'rdrescue repack --compress gzip --level 9', cmd: rd('--compress gzip --level 9 --owner 0:0'), ours: true },
      { name: "dracut's packing: cpio | pigz -9 -n -T -R", cmd: dracut('pigz -9 -n -T -R'), ours: false },
    ],
  },
  {
    title: 'zstd -3',
    cases: [
      { name: 'rdrescue repack --compress zstd --level 3', cmd: rd('--compress zstd --level 3 --owner 0:0'), ours: true },
      { name: 'find | sort | cpio | zstd -3 -T0', cmd: itools('zstd -q -3 -T0'), ours: false },
    ],
  },
  {
    title: 'zstd -1 (initramfs-tools)',
    cases: [
      { name: 'rdrescue repack --compress zstd --level 1', cmd: rd('--compress zstd --level 1 --owner 0:0'), ours: true },
      { name: 'find | sort | cpio | zstd -q -1 -T0', cmd: itools('zstd -q -1 -T0'), ours: false },
    ],
  },
  {
    title: 'zstd -15 (dracut)',
    cases: [
      { name: 'rdrescue repack --compress zstd --level 15', cmd: rd('--compress zstd --level 15 --owner 0:0'), ours: true },
      { name: "dracut's packing: cpio | zstd -15 -q -T0", cmd: dracut('zstd -15 -q -T0'), ours: false },
    ],
  },
];

function time(cmd: string): { seconds: number; bytes: number } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('bash', ['-o', 'pipefail', '-c', cmd], { cwd: tree, stdio: ['ignore', 'ignore', 'pipe'] });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr.toString()}`);
  const bytes = statSync(out).size;
  rmSync(out, { force: true });
  return { seconds, bytes };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const treeMb = Number(execFileSync('du', ['-sm', '--apparent-size', tree]).toString().split('\t')[0]);
console.log(`repack of ${image} (${treeMb} MB tree), median of ${RUNS} runs, ${new Date().toISOString()}`);
for (const g of groups.filter((x) => ONLY.length === 0 || ONLY.some((o) => x.title.startsWith(o)))) {
  console.log(`\n${g.title}`);
  const rows: Array<{ c: Case; s: number; bytes: number }> = [];
  for (const c of g.cases) {
    const runs = Array.from({ length: RUNS }, () => time(c.cmd));
    rows.push({ c, s: median(runs.map((r) => r.seconds)), bytes: runs[0].bytes });
  }
  const fastestPeer = Math.min(...rows.filter((r) => !r.c.ours).map((r) => r.s));
  for (const r of rows) {
    const ratio = r.c.ours ? `  ${(r.s / fastestPeer).toFixed(2)}x the fastest peer` : '';
    console.log(`  ${r.c.name.padEnd(48)} ${r.s.toFixed(2).padStart(7)} s  ${(r.bytes / 1e6).toFixed(1).padStart(6)} MB${ratio}`);
  }
}

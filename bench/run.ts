// npm run bench: rdrescue against its peers and the floors on the same images,
// in one run. Prints for each command the medians of wall time, user and
// system CPU and minor page faults, the peak RSS, and the ratio to the fastest
// peer; then checks the goals of issue 12 against this run's figures. Timing
// goals live here, never in the tests. BENCH_RUNS sets the repetitions.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { distributionCpio, distributionImage, recompressed } from '../test/helpers/real-images.js';
import { buildDisk, writeRoot } from '../test/host/disk.js';
import { smallImage, ubuntuStyleImage } from './images.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
/** BENCH_IMAGES=none,ubuntu,small and BENCH_COMMANDS=ls measure a part (keys below); the default is everything. */
const ONLY_IMAGES = process.env.BENCH_IMAGES?.split(',');
const ONLY_COMMANDS = process.env.BENCH_COMMANDS?.split(',');
const everything = !ONLY_IMAGES && !ONLY_COMMANDS;
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
  /** Medians over the runs. */
  wall: number;
  user: number;
  sys: number;
  faults: number;
  /** The highest peak RSS of any run, KiB. */
  peakKiB: number;
  /** Spread of the wall times: (max - min) / median. */
  spread: number;
  ok: boolean;
  partial?: boolean;
}

interface Case {
  label: string;
  /** A shell line. */
  cmd: string;
  /** A peer that reads only the first archive of a multi-archive image: listed, never the one to beat. */
  partial?: boolean;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Runs every case RUNS times after one warm-up round, in rounds (each case
 * once per round) so that a slow spell of the machine or of its disk's
 * writeback hits all of them alike. `before` resets state (the extraction
 * dir), and `sync` then settles the previous run's writeback outside the
 * timing. GNU time gives wall, user and system time (children included),
 * minor faults and peak RSS.
 */
function measure(cases: Case[], before?: () => void): Result[] {
  const runs = cases.map(() => [] as number[][]);
  const ok = cases.map(() => true);
  for (let i = 0; i <= RUNS; i++) {
    cases.forEach((c, k) => {
      before?.();
      spawnSync('sync');
      const r = spawnSync('/usr/bin/time', ['-f', '@@%e %U %S %R %M', 'sh', '-c', c.cmd], { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26 });
      const m = /@@(\S+) (\S+) (\S+) (\d+) (\d+)\s*$/.exec(r.stderr.toString());
      if (r.status !== 0 || !m) ok[k] = false;
      if (i === 0 || !m) return; // warm-up: page cache, code cache
      runs[k]!.push(m.slice(1).map(Number));
    });
  }
  return cases.map((c, k) => {
    const col = (j: number) => runs[k]!.map((r) => r[j]!);
    const wall = col(0);
    const mid = median(wall);
    return { label: c.partial ? `${c.label} (reads the first archive only)` : c.label, partial: c.partial, wall: mid, user: median(col(1)), sys: median(col(2)), faults: median(col(3)), peakKiB: Math.max(0, ...col(4)), spread: mid ? (Math.max(...wall) - Math.min(...wall)) / mid : 0, ok: ok[k]! };
  });
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
/**
 * Where extract writes: tmpfs when there is one. On this machine's disk the writeback of one run's 146 MB
 * spilled into the next runs, and the extract rows varied by 40% between rounds; on tmpfs they differ by a
 * few percent and measure the tools, not the disk. BENCH_EXTRACT_DIR picks another place (a disk, to see it).
 */
const extractBase = process.env.BENCH_EXTRACT_DIR ?? (existsSync('/dev/shm') ? mkdtempSync('/dev/shm/rdrescue-bench-') : scratch);
if (extractBase !== scratch && !process.env.BENCH_EXTRACT_DIR) process.on('exit', () => rmSync(extractBase, { recursive: true, force: true }));
const out = join(extractBase, 'out');
const clean = () => rmSync(out, { recursive: true, force: true });

/** The fastest peer that read the whole image without failing. */
function fastestPeer(peers: Result[]): Result | undefined {
  return peers.filter((p) => p.ok && !p.partial).reduce<Result | undefined>((a, b) => (!a || b.wall < a.wall ? b : a), undefined);
}

function table(title: string, ours: Result[], peers: Result[], floors: Result[]): void {
  const fastest = fastestPeer(peers);
  console.log(`\n## ${title}`);
  console.log('| command | wall s | user s | sys s | minor faults | peak RSS MiB | wall spread | vs fastest peer |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  const row = (r: Result) =>
    console.log(
      `| ${r.label.replace(/\|/g, '\\|')}${r.ok ? '' : ' (FAILED)'} | ${r.wall.toFixed(3)} | ${r.user.toFixed(2)} | ${r.sys.toFixed(2)} | ${r.faults} | ${(r.peakKiB / 1024).toFixed(0)} | ${(r.spread * 100).toFixed(0)}% | ${fastest?.wall ? (r.wall / fastest.wall).toFixed(2) + 'x' : '-'} |`,
    );
  for (const r of [...ours, ...peers]) row(r);
  for (const f of floors) row({ ...f, label: `floor: ${f.label}` });
  console.log(fastest ? `fastest peer: ${fastest.label}` : 'no peer reads the whole image');
}

console.log(`# rdrescue bench (${RUNS} runs each after a warm-up; ${new Date().toISOString()})`);
const node24 = join(root, 'node_modules/node24/bin/node');
console.log(`npm package on system node ${execFileSync('node', ['--version']).toString().trim()}; single executable built from node ${existsSync(node24) ? execFileSync(node24, ['--version']).toString().trim() : '24'}`);
console.log(`load average at the start: ${execFileSync('cat', ['/proc/loadavg']).toString().trim()} (2 cores shared with other work: compare within a table)`);
console.log(`extract writes into ${extractBase} (${execFileSync('stat', ['-f', '-c', '%T', extractBase]).toString().trim()}; BENCH_EXTRACT_DIR picks another place)`);
console.log('3cpio is not a peer here: it is neither in Debian 12 nor on npm, and only those two registries are reachable.');

const segmentsOf = (image: string) => (JSON.parse(execFileSync(SEA, ['info', '--json', image]).toString()) as { segments: Array<{ offset: number; compression: string }> }).segments;

/** The same member's bytes as the image holds them, fed to the decompressor alone. */
function zstdSegmentFloor(image: string): Case {
  const seg = segmentsOf(image).find((s) => s.compression === 'zstd')!;
  return { label: `zstd -dc of the zstd segment`, cmd: `tail -c +${seg.offset + 1} ${q(image)} | zstd -dc > /dev/null` };
}

const version: Case = { label: 'rdrescue --version (single executable)', cmd: `${q(SEA)} --version > /dev/null` };

interface Image {
  key: string;
  name: string;
  path: string;
  /** The decompressor alone, for the whole image; none for an uncompressed one. */
  floor?: Case;
  /** What reads the image in a pipeline with cpio; `cat` for an uncompressed one. */
  dc: string;
  extract: boolean;
}

const images: Image[] = [
  { key: 'zstd', name: 'distribution image (zstd)', path: distributionImage(), dc: 'zstd -dc', extract: true },
  { key: 'gzip', name: 'distribution image recompressed with gzip', path: recompressed('gzip'), dc: 'pigz -dc', extract: true },
  { key: 'xz', name: 'distribution image recompressed with xz (mkinitramfs: --check=crc32 --threads=0)', path: recompressed('xz'), dc: 'xz -T0 -dc', extract: true },
  { key: 'none', name: 'distribution image uncompressed (one 146 MB segment)', path: distributionCpio(), dc: 'cat', extract: true },
  { key: 'ubuntu', name: 'Ubuntu 24.04-style image (2 early microcode archives, 117 MB of modules uncompressed, zstd -1 rest)', path: ubuntuStyleImage(), dc: 'cat', extract: false },
  { key: 'small', name: '5 MB image (zstd -1)', path: smallImage(), dc: 'zstd -dc', extract: false },
];
for (const img of images) if (ONLY_COMMANDS && !ONLY_COMMANDS.includes('extract')) img.extract = false;
for (const img of images) if (img.dc !== 'cat') img.floor = { label: `${img.dc} > /dev/null`, cmd: `${img.dc} ${q(img.path)} > /dev/null` };
const ubuntu = images.find((i) => i.key === 'ubuntu')!;
ubuntu.floor = zstdSegmentFloor(ubuntu.path);

/** Ours first, then the peers, then the floors: measured together, in rounds. */
function compare(title: string, ours: Case[], peers: Case[], floors: Case[], before?: () => void): { ours: Result[]; peers: Result[]; floors: Result[] } {
  const r = measure([...ours, ...peers, ...floors], before);
  const res = { ours: r.slice(0, ours.length), peers: r.slice(ours.length, ours.length + peers.length), floors: r.slice(ours.length + peers.length) };
  table(title, res.ours, res.peers, res.floors);
  return res;
}

const lsRuns = new Map<string, ReturnType<typeof compare>>();
const extractRuns = new Map<string, ReturnType<typeof compare>>();
for (const img of images.filter((i) => !ONLY_IMAGES || ONLY_IMAGES.includes(i.key))) {
  const p = q(img.path);
  const size = statSync(img.path).size;
  // bsdtar and cpio stop at the first archive's trailer, and lsinitrd here lists only the early archives
  // (the Ubuntu-style image: 19 of 1,544 entries). Only lsinitramfs reads it all.
  const partial = segmentsOf(img.path).length > 1;
  console.log(`\n# ${img.name}: ${img.path} (${(size / 1048576).toFixed(1)} MiB)`);
  const floors = [...(img.floor ? [img.floor] : []), version];
  lsRuns.set(
    img.key,
    compare(
      `ls: ${img.name}`,
      [
        { label: 'rdrescue ls (single executable)', cmd: `${q(SEA)} ls ${p} > /dev/null` },
        { label: 'rdrescue ls (npm package, system node)', cmd: `node ${q(BUNDLE)} ls ${p} > /dev/null` },
      ],
      [
        { label: 'bsdtar -tf', cmd: `bsdtar -tf ${p} > /dev/null`, partial },
        { label: `${img.dc} | cpio -t`, cmd: `${img.dc} ${p} | cpio -t --quiet > /dev/null`, partial },
        { label: 'lsinitramfs', cmd: `lsinitramfs ${p} > /dev/null` },
        { label: 'lsinitrd', cmd: `lsinitrd ${p} > /dev/null`, partial },
      ],
      floors,
    ),
  );
  if (!img.extract) continue;
  extractRuns.set(
    img.key,
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
      floors,
      clean,
    ),
  );
}

/** Issue 12's goals, each from one table of this run. */
console.log('\n## goals (issue 12), from the tables above');
const sea = (r: ReturnType<typeof compare>) => r.ours[0]!;
const floorOf = (r: ReturnType<typeof compare>, label: string) => r.floors.find((f) => f.label.startsWith(label))!;
const goal = (what: string, met: boolean, figures: string) => console.log(`- ${met ? 'met' : 'MISSED'}: ${what}: ${figures}`);
const measured = (...tables: Array<ReturnType<typeof compare> | undefined>) => tables.every((t) => t !== undefined);
for (const key of ['none', 'ubuntu']) {
  if (!measured(lsRuns.get(key))) continue;
  const r = lsRuns.get(key)!;
  const v = floorOf(r, 'rdrescue --version');
  goal(`ls of the ${key === 'none' ? 'uncompressed' : 'Ubuntu-style'} image within 0.05 s of rdrescue --version`, sea(r).wall <= v.wall + 0.05, `${sea(r).wall.toFixed(3)} s against ${v.wall.toFixed(3)} s (+${(sea(r).wall - v.wall).toFixed(3)} s)`);
}
if (measured(lsRuns.get('zstd'), lsRuns.get('small'))) {
  const r = lsRuns.get('zstd')!;
  const bound = floorOf(r, 'zstd -dc').wall + floorOf(r, 'rdrescue --version').wall;
  goal('ls of the zstd image at most 1.15x (zstd -dc + rdrescue --version)', sea(r).wall <= 1.15 * bound, `${sea(r).wall.toFixed(3)} s against ${bound.toFixed(3)} s: ${(sea(r).wall / bound).toFixed(2)}x`);
  const small = sea(lsRuns.get('small')!);
  goal('ls of the zstd image at most 3,000 more minor faults than ls of the 5 MB image', sea(r).faults - small.faults <= 3000, `${sea(r).faults} against ${small.faults} (+${sea(r).faults - small.faults}; in separate tables)`);
  goal('ls of the zstd image at most 24 MiB more peak RSS than ls of the 5 MB image', sea(r).peakKiB - small.peakKiB <= 24 * 1024, `${(sea(r).peakKiB / 1024).toFixed(0)} MiB against ${(small.peakKiB / 1024).toFixed(0)} MiB (+${((sea(r).peakKiB - small.peakKiB) / 1024).toFixed(0)} MiB)`);
}
for (const key of ['gzip', 'xz']) {
  for (const [cmd, runs] of [['ls', lsRuns], ['extract', extractRuns]] as const) {
    if (!measured(runs.get(key))) continue;
    const r = runs.get(key)!;
    const f = fastestPeer(r.peers);
    if (!f) continue;
    goal(`${cmd} of the ${key} image at most 1.0x the fastest peer`, sea(r).wall <= f.wall, `${sea(r).wall.toFixed(3)} s against ${f.label} ${f.wall.toFixed(3)} s: ${(sea(r).wall / f.wall).toFixed(2)}x`);
  }
}

// check reads the image once, as ls does, plus the ELF closure of its programs (issue 15: goal under 2x ls).
if (everything) {
  console.log('\n## check vs ls of the distribution image');
  const p = q(distributionImage());
  const [ls, check] = measure([
    { label: 'rdrescue ls', cmd: `${q(SEA)} ls ${p} > /dev/null` },
    { label: 'rdrescue check', cmd: `${q(SEA)} check ${p} > /dev/null` },
  ]) as [Result, Result];
  console.log(`| command | median s | peak RSS MiB |\n|---|---:|---:|\n| ${ls.label} | ${ls.wall.toFixed(3)} | ${(ls.peakKiB / 1024).toFixed(0)} |\n| ${check.label}${check.ok ? '' : ' (FAILED)'} | ${check.wall.toFixed(3)} | ${(check.peakKiB / 1024).toFixed(0)} |`);
  console.log(`check / ls: ${(check.wall / ls.wall).toFixed(2)}x (goal: under 2x)`);
}

// mount of a disk image as a rescue host attaches it (issue 13: under 1 s, journal replay aside):
// partition table, superblock probes, the trial mount of the root, its fstab, /boot.
if (everything || ONLY_COMMANDS?.includes('mount')) {
  console.log('\n## mount of a disk image (GPT: ext4 /boot by UUID, XFS /)');
  const bootUuid = '5a1e0b00-0000-4000-8000-00000000b007';
  const disk = buildDisk('gpt', [
    { sizeMiB: 64, fs: 'ext4', uuid: bootUuid },
    { sizeMiB: 320, fs: 'xfs', fill: (mnt) => writeRoot(mnt, { name: 'Bench Linux', fstab: [`UUID=${bootUuid} /boot ext4 defaults 0 2`] }) },
  ]);
  const at = join(scratch, 'broken');
  const release = () => void spawnSync(SEA, ['umount', at], { stdio: 'ignore' });
  // The floor: the same two read-only attachments and mounts done by hand with losetup and mount.
  const [boot, rootPart] = disk.parts as [{ offset: number; size: number }, { offset: number; size: number }];
  const byHand = [
    `r=$(losetup -f --show -r -o ${rootPart.offset} --sizelimit ${rootPart.size} ${q(disk.image)})`,
    `b=$(losetup -f --show -r -o ${boot.offset} --sizelimit ${boot.size} ${q(disk.image)})`,
    `mkdir -p ${q(at)} && mount -o ro $r ${q(at)} && mount -o ro $b ${q(at)}/boot`,
    `umount ${q(at)}/boot ${q(at)} && losetup -d $r $b`,
  ].join(' && ');
  const [ours, hand] = measure([
    { label: 'rdrescue mount (then umount, not timed)', cmd: `${q(SEA)} mount ${q(disk.image)} --at ${q(at)} > /dev/null` },
    { label: 'losetup -r + mount ro, twice, and back', cmd: byHand },
  ], release) as [Result, Result];
  release();
  disk.cleanup();
  console.log('| command | wall s | user s | sys s | minor faults | peak RSS MiB |\n|---|---:|---:|---:|---:|---:|');
  for (const r of [ours, hand]) console.log(`| ${r.label}${r.ok ? '' : ' (FAILED)'} | ${r.wall.toFixed(3)} | ${r.user.toFixed(2)} | ${r.sys.toFixed(2)} | ${r.faults} | ${(r.peakKiB / 1024).toFixed(0)} |`);
  console.log(`goal: rdrescue mount under 1 s: ${ours.ok && ours.wall < 1 ? 'met' : 'MISSED'} (${ours.wall.toFixed(3)} s)`);
}

console.log('\n## single executable');
const startup = measure([
  version,
  { label: 'node dist/rdrescue.cjs --version', cmd: `node ${q(BUNDLE)} --version > /dev/null` },
  { label: 'node -e 0', cmd: 'node -e 0' },
]);
console.log('| startup | wall s | user s | sys s | minor faults | peak RSS MiB |\n|---|---:|---:|---:|---:|---:|');
for (const r of startup) console.log(`| ${r.label} | ${r.wall.toFixed(3)} | ${r.user.toFixed(2)} | ${r.sys.toFixed(2)} | ${r.faults} | ${(r.peakKiB / 1024).toFixed(0)} |`);
// The same command in every table: how far this machine's speed moved during the run.
const versions = [...lsRuns.values(), ...extractRuns.values()].map((r) => floorOf(r, 'rdrescue --version').wall);
console.log(`noise: rdrescue --version took ${Math.min(...versions).toFixed(3)}-${Math.max(...versions).toFixed(3)} s (median per table) across the tables of this run; load average now ${execFileSync('cat', ['/proc/loadavg']).toString().trim()}`);
console.log(`size of dist/rdrescue: ${(statSync(SEA).size / 1048576).toFixed(1)} MiB`);

for (const extra of everything ? ['codecs.ts', 'repack.ts'] : []) {
  const p = join(root, 'bench', extra);
  if (existsSync(p)) {
    console.log(`\n# bench/${extra}`);
    spawnSync(process.execPath, ['--import', 'tsx', p], { stdio: 'inherit' });
  }
}

// Decode throughput of every built-in codec against the format's own tool.
//
//   node --import tsx bench/codecs.ts [--mb 100] [--formats gzip,zstd,...] [--runs 3]
//
// Input: the first N MB of the distribution initramfs's cpio (zstd -dc
// /boot/initrd.img-*), recompressed once with each real tool and cached in
// $RDRESCUE_BENCH_DIR (default: $TMPDIR/rdrescue-codec-bench). Each decoder
// reads the file in 1 MiB chunks, native path and built-in (native:false),
// best of --runs; the tool runs as `tool -dc < FILE > /dev/null`.
import { execFileSync, execSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readSync, closeSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decoderFor } from '../src/compression/index.js';
import type { Compression, MemberInput } from '../src/compression/types.js';
import { nativeZstd } from '../src/compression/zstd.js';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};
const MB = Number(arg('mb', '100'));
const RUNS = Number(arg('runs', '3'));
const FORMATS = arg('formats', 'gzip,zstd,xz,lzma,lz4,bzip2,lzo').split(',') as Compression[];
const dir = process.env.RDRESCUE_BENCH_DIR ?? join(tmpdir(), 'rdrescue-codec-bench');

const EXT: Record<Compression, string> = { gzip: 'gz', zstd: 'zst', xz: 'xz', lzma: 'lzma', lz4: 'lz4', bzip2: 'bz2', lzo: 'lzo' };
const MAKE: Record<Compression, string> = {
  gzip: 'gzip -6 -n -c',
  zstd: 'zstd -q -c -T2',
  xz: 'xz -T2 --check=crc32 --lzma2=dict=1MiB -c',
  lzma: 'xz --format=lzma -c',
  lz4: 'lz4 -q -l -9 -c',
  bzip2: 'bzip2 -c',
  lzo: 'lzop -c',
};
const TOOLS: Record<Compression, string[]> = {
  gzip: ['gzip -dc', 'pigz -dc'],
  zstd: ['zstd -dc'],
  xz: ['xz -dc'],
  lzma: ['xz -dc'],
  lz4: ['lz4 -dc'],
  bzip2: ['bzip2 -dc'],
  lzo: ['lzop -dc'],
};

function prepare(): string {
  mkdirSync(dir, { recursive: true });
  const cpio = join(dir, `initrd-${MB}MB.cpio`);
  if (!existsSync(cpio)) {
    const img = execSync('ls /boot/initrd.img-* | head -n1', { encoding: 'utf8' }).trim();
    execSync(`zstd -dc '${img}' | head -c ${MB * 1e6} > '${cpio}'`, { shell: '/bin/bash' });
  }
  for (const f of FORMATS) {
    const out = `${cpio}.${EXT[f]}`;
    if (!existsSync(out)) execSync(`${MAKE[f]} < '${cpio}' > '${out}'`, { shell: '/bin/bash' });
  }
  return cpio;
}

class FileInput implements MemberInput {
  private fd: number;
  private back: Buffer[] = [];
  constructor(path: string) {
    this.fd = openSync(path, 'r');
  }
  async read(): Promise<Buffer | null> {
    const b = this.back.pop();
    if (b) return b;
    const buf = Buffer.allocUnsafe(1 << 20);
    const n = readSync(this.fd, buf, 0, buf.length, null);
    return n ? buf.subarray(0, n) : null;
  }
  unread(rest: Buffer): void {
    this.back.push(rest);
  }
  close(): void {
    closeSync(this.fd);
  }
}

async function ours(f: Compression, file: string, native: boolean): Promise<{ s: number; bytes: number }> {
  const input = new FileInput(file);
  const t0 = process.hrtime.bigint();
  let bytes = 0;
  for await (const chunk of decoderFor(f)(input, { native })) bytes += chunk.length;
  input.close();
  return { s: Number(process.hrtime.bigint() - t0) / 1e9, bytes };
}

function theirs(cmd: string, file: string): number | undefined {
  const prog = cmd.split(' ')[0]!;
  try {
    execFileSync('sh', ['-c', `command -v ${prog}`], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  const t0 = process.hrtime.bigint();
  execSync(`${cmd} < '${file}' > /dev/null`, { shell: '/bin/bash' });
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

const best = (xs: number[]) => Math.min(...xs);

const cpio = prepare();
const size = statSync(cpio).size;
console.log(`node ${process.version}, node:zlib zstd ${nativeZstd ? 'yes' : 'no'}; ${(size / 1e6).toFixed(0)} MB of initramfs cpio; best of ${RUNS}; MB/s of output`);
console.log(['format', 'ratio', 'native', 'built-in', 'tool(s)'].join('\t'));
for (const f of FORMATS) {
  const file = `${cpio}.${EXT[f]}`;
  const rate = (s: number) => (size / 1e6 / s).toFixed(0);
  const nat: number[] = [];
  const built: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const a = await ours(f, file, true);
    const b = await ours(f, file, false);
    if (a.bytes !== size || b.bytes !== size) throw new Error(`${f}: decoded ${a.bytes}/${b.bytes} bytes, expected ${size}`);
    nat.push(a.s);
    built.push(b.s);
  }
  const tools = TOOLS[f]
    .map((cmd) => {
      const times = Array.from({ length: RUNS }, () => theirs(cmd, file)).filter((x): x is number => x !== undefined);
      return times.length ? `${cmd.split(' ')[0]} ${rate(best(times))}` : `${cmd.split(' ')[0]} missing`;
    })
    .join(', ');
  const ratio = (statSync(file).size / size).toFixed(3);
  console.log([f, ratio, rate(best(nat)), rate(best(built)), tools].join('\t'));
}

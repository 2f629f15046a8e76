// The zstd member's two fast paths, each proven to be the one taken:
// node:zlib's zstd on the main thread (Node 24, the single executable's Node)
// and the zstd program reading the image file itself, with no dd between.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { realisticData, tool } from './helpers.js';
import { BUNDLE, rdrescue } from '../helpers/cli.js';
import { nativeZstd } from '../../src/compression/zstd.js';

const node24 = resolve('node_modules/node24/bin/node');
const dir = mkdtempSync(join(tmpdir(), 'rdrescue-zstd-paths-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const data = realisticData(3_000_000);
// Small blocks and a content checksum: many block headers, several of them across the 512 KiB read chunks.
const frame = tool('zstd', ['-q', '-c', '--check', '-19'], data);
const whole = execFileSync('zstd', ['-dc', '-q'], { input: frame, maxBuffer: 1 << 28 });

/**
 * Runs src/compression/zstd.ts under Node 24 on a file through FileSource,
 * which reads into the shared chunk pool as `rdrescue ls` does: the
 * decoder must never keep a view of a chunk the pool hands out again.
 */
function underNode24(file: string, maxOutput?: number): { native: boolean; chunks: number; out: Buffer; rest: string; err?: string; offset?: number } {
  const script = join(dir, 'decode.mts');
  writeFileSync(
    script,
    `import { decodeZstd, nativeZstd } from ${JSON.stringify(resolve('src/compression/zstd.ts'))};
import { FileSource } from ${JSON.stringify(resolve('src/image/file-source.ts'))};
import { chunks } from ${JSON.stringify(resolve('src/compression/buffers.ts'))};
import { writeFileSync } from 'node:fs';
const src = await FileSource.open(process.argv[2]);
const parts: Buffer[] = [];
let err: any;
try {
  for await (const b of decodeZstd(src, { maxOutput: ${maxOutput ?? 'undefined'} })) {
    parts.push(Buffer.from(b));
    // As the cpio parser does once past a chunk.
    chunks.give(b);
  }
} catch (e) { err = e; }
const rest: Buffer[] = [];
for (let b; (b = await src.read()); ) rest.push(Buffer.from(b));
writeFileSync(process.argv[3], Buffer.concat(parts));
console.log(JSON.stringify({ native: nativeZstd, chunks: chunks.allocated, rest: Buffer.concat(rest).toString('latin1'), err: err?.message, offset: err?.where?.offset }));
`,
  );
  const out = join(dir, 'out');
  // Without the zstd program too: node:zlib's zstd needs none.
  const r = spawnSync(node24, ['--import', 'tsx', script, file, out], { encoding: 'utf8', env: { ...process.env, PATH: '/nonexistent' } });
  if (r.status !== 0) throw new Error(r.stderr);
  return { ...JSON.parse(r.stdout.trim()), out: readFileSync(out) };
}

t.test("node:zlib's zstd: the frame's bytes only, what follows handed back exactly", async (t) => {
  const file = join(dir, 'framed.img');
  writeFileSync(file, Buffer.concat([frame, Buffer.alloc(512), Buffer.from('070701 next segment')]));
  const r = underNode24(file);
  t.equal(r.native, true, 'Node 24 has zstd in node:zlib');
  t.equal(r.err, undefined);
  t.ok(r.out.equals(whole), `${r.out.length} bytes, as zstd -dc gives them`);
  t.equal(r.rest, '\0'.repeat(512) + '070701 next segment', 'padding and the next segment are left to the caller');

  // The input chunks go back to the pool as the frame is decoded (before, every one stayed: 91 for the distribution image).
  const noisy = Buffer.concat([data, randomBytes(6 * 2 ** 20)]);
  const big = tool('zstd', ['-q', '-c'], noisy);
  writeFileSync(join(dir, 'big.img'), big);
  const b = underNode24(join(dir, 'big.img'));
  t.ok(b.out.equals(noisy));
  t.ok(b.chunks <= 6, `${b.chunks} pooled chunks of 512 KiB for ${big.length} bytes in, ${noisy.length} out`);
});

t.test("node:zlib's zstd: a frame cut short gives what zstd -dc gives before its error", async (t) => {
  for (const fraction of [0.1, 0.5, 0.93]) {
    const cut = frame.subarray(0, Math.floor(frame.length * fraction));
    const file = join(dir, `cut-${fraction}.img`);
    writeFileSync(file, cut);
    const oracle = spawnSync('zstd', ['-dc', '-q'], { input: cut, maxBuffer: 1 << 28 });
    t.not(oracle.status, 0, 'zstd -dc fails on the cut frame');
    const r = underNode24(file);
    t.match(r.err, /truncated zstd data/, `cut at ${fraction}: ${r.err}`);
    t.equal(r.offset, cut.length, 'the error is placed at the cut');
    t.ok(r.out.length > 0 && r.out.equals(whole.subarray(0, r.out.length)), `${r.out.length} bytes salvaged, all correct`);
    t.equal(r.out.length, oracle.stdout.length, 'as much as zstd -dc writes before its error');
  }
});

t.test("node:zlib's zstd: corruption and a wrong checksum are errors at their place; the bomb guard holds", async (t) => {
  const corrupt = Buffer.from(frame);
  const at = Math.floor(frame.length / 2);
  corrupt[at] ^= 0x5a;
  writeFileSync(join(dir, 'corrupt.img'), corrupt);
  const c = underNode24(join(dir, 'corrupt.img'));
  t.match(c.err, /corrupt zstd data|content checksum|truncated/, String(c.err));
  // Bytes decoded from the damaged block on are wrong until the checksum catches it, as with zstd -dc and the kernel.
  let same = 0;
  while (same < c.out.length && c.out[same] === whole[same]) same++;
  t.ok(same >= whole.length * 0.3, `the output before the damaged block is intact (${same} of ${whole.length} bytes)`);

  const sum = Buffer.from(frame);
  sum[sum.length - 1] ^= 0xff;
  writeFileSync(join(dir, 'checksum.img'), sum);
  const s = underNode24(join(dir, 'checksum.img'));
  t.match(s.err, /corrupt zstd data/, `libzstd checks the content checksum: ${s.err}`);

  const bomb = tool('zstd', ['-q', '-c'], Buffer.alloc(64 * 2 ** 20));
  writeFileSync(join(dir, 'bomb.img'), bomb);
  const b = underNode24(join(dir, 'bomb.img'), 2 ** 20);
  t.match(b.err, /output limit \(decompression bomb guard\)/, String(b.err));
  t.ok(b.out.length <= 2 ** 20 + 512 * 1024, `stopped after ${b.out.length} bytes`);
});

/** A PATH directory whose zstd notes its stdin in `log`, then runs the real one (with mkfifo, dd and readlink beside it). */
function recordingZstd(name: string): { bin: string; log: string } {
  const bin = join(dir, name);
  execFileSync('mkdir', ['-p', bin]);
  const log = join(dir, `stdin-of-zstd-${name}`);
  const real = execFileSync('sh', ['-c', 'command -v zstd'], { encoding: 'utf8' }).trim();
  writeFileSync(join(bin, 'zstd'), `#!/bin/sh\nreadlink /proc/self/fd/0 >> ${log}\nexec ${real} "$@"\n`);
  chmodSync(join(bin, 'zstd'), 0o755);
  for (const p of ['mkfifo', 'dd', 'readlink']) symlinkSync(execFileSync('sh', ['-c', `command -v ${p}`], { encoding: 'utf8' }).trim(), join(bin, p));
  return { bin, log };
}

t.test('the zstd program reads an image that is one frame from the file itself, with no dd', { skip: nativeZstd && 'this Node has zstd in node:zlib, which the bundle then uses instead of the program' }, async (t) => {
  const { bin, log } = recordingZstd('bin');
  const cpio = execFileSync('sh', ['-c', 'cd /usr/share/doc/tar 2>/dev/null || cd /etc; ls | head -n 40 | cpio -o -H newc --quiet'], { maxBuffer: 1 << 26 });
  const image = join(dir, 'one-frame.img');
  writeFileSync(image, tool('zstd', ['-q', '-c', '-19'], cpio));
  const padded = join(dir, 'padded.img');
  writeFileSync(padded, Buffer.concat([readFileSync(image), Buffer.alloc(4096)]));
  const expected = execFileSync('sh', ['-c', `zstd -dc '${image}' | cpio -it --quiet`], { encoding: 'utf8' });
  for (const [img, reads] of [
    [image, image],
    [padded, 'dd'],
  ] as const) {
    rmSync(log, { force: true });
    // The bundle runs on this Node (20: no zstd in node:zlib), so the program is the decoder.
    const r = rdrescue(['ls', img], { env: { ...process.env, PATH: bin } });
    t.equal(r.status, 0, r.stderr);
    t.equal(r.stdout, expected, 'the listing GNU cpio gives');
    const stdin = readFileSync(log, 'utf8').trim();
    if (reads === 'dd') t.match(stdin, /^(pipe|socket):/, `zero padding after the frame: dd copies the frame alone (stdin ${stdin})`);
    else t.equal(stdin, reads, 'stdin is the image file');
  }
});

t.test('under Node 24, extract has the zstd program decode on the other core; ls keeps node:zlib on its own thread', async (t) => {
  const { bin, log } = recordingZstd('bin24');
  const cpio = execFileSync('sh', ['-c', 'cd /usr/share/doc/tar 2>/dev/null || cd /etc; ls | head -n 40 | cpio -o -H newc --quiet'], { maxBuffer: 1 << 26 });
  const image = join(dir, 'extract-24.img');
  writeFileSync(image, tool('zstd', ['-q', '-c', '-19'], cpio));
  const want = join(dir, 'want-24');
  execFileSync('sh', ['-c', `mkdir -p '${want}' && cd '${want}' && zstd -dc '${image}' | cpio -idm --quiet`]);
  const run = (args: string[]) => spawnSync(node24, [BUNDLE, ...args], { encoding: 'utf8', env: { ...process.env, PATH: bin } });

  rmSync(log, { force: true });
  const ls = run(['ls', image]);
  t.equal(ls.status, 0, ls.stderr);
  t.equal(ls.stdout, execFileSync('sh', ['-c', `zstd -dc '${image}' | cpio -it --quiet`], { encoding: 'utf8' }));
  t.notOk(readFileSync(log, { encoding: 'utf8', flag: 'a+' }).trim(), 'ls: no zstd program ran');

  const out = join(dir, 'got-24');
  const x = run(['extract', image, out]);
  t.equal(x.status, 0, x.stderr);
  t.equal(readFileSync(log, 'utf8').trim(), image, 'extract: the program read the image file itself');
  const tree = (d: string) => execFileSync('sh', ['-c', `cd '${d}' && find . -printf '%p %y %s %m\\n' | sort && find . -type f -exec md5sum {} + | sort`], { encoding: 'utf8' });
  t.equal(tree(out), tree(want), 'the tree GNU cpio writes');
});

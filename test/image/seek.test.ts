// Data nobody needs is not read: in an uncompressed segment, listing and
// picking a few files seek from header to header. Measured by the bytes the
// process reads (/proc/self/io rchar), against GNU cpio as the oracle.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { catFiles } from '../../src/image/cat.js';
import { extractImage } from '../../src/image/extract.js';
import { listImage } from '../../src/image/list.js';
import { rdrescue } from '../helpers/cli.js';
import { distributionCpio } from '../helpers/real-images.js';
import { diffSnapshots, snapshot } from '../helpers/tree.js';

const work = mkdtempSync(join(tmpdir(), 'rdrescue-seek-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const img = distributionCpio();
const size = statSync(img).size;
const MiB = 2 ** 20;

/** Bytes this process reads (read and pread calls) while `f` runs. */
async function bytesRead(f: () => Promise<void>): Promise<number> {
  const rchar = () => Number(/^rchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))![1]);
  const before = rchar();
  await f();
  return rchar() - before;
}

t.test('ls of a 146 MB uncompressed image reads the headers, not the data', async (t) => {
  const names: string[] = [];
  const read = await bytesRead(async () => {
    for await (const { entry } of listImage(img)) names.push(entry.name);
  });
  t.equal(names.join('\n') + '\n', execFileSync('cpio', ['-t', '--quiet'], { input: readFileSync(img), maxBuffer: 1 << 28 }).toString(), 'listing equals cpio -t');
  // 4 KiB after each seek (src/image/file-source.ts: AFTER_SEEK): 3.9 MiB; 12.5 MiB when it was 16 KiB.
  t.ok(read < 6 * MiB, `read ${(read / MiB).toFixed(1)} MiB of ${(size / MiB).toFixed(0)} MiB`);
});

t.test('extract with a pattern writes the same files as cpio and reads little more than them', async (t) => {
  const pattern = 'usr/lib/modules/*/kernel/fs/ext4/*';
  const ours = join(work, 'ours');
  let bytes = 0;
  const read = await bytesRead(async () => {
    bytes = (await extractImage(img, ours, { patterns: [pattern] })).bytes;
  });
  const theirs = join(work, 'theirs');
  execFileSync('sh', ['-c', 'mkdir -p "$2" && cd "$2" && cpio -idm --quiet "$3" < "$1"', 'sh', img, theirs, pattern]);
  t.same(diffSnapshots(snapshot(theirs), snapshot(ours)), [], 'same tree as cpio -idm PATTERN');
  t.ok(bytes > 100_000, `wrote ${bytes} bytes`);
  t.ok(read < bytes + 16 * MiB, `read ${(read / MiB).toFixed(1)} MiB for ${(bytes / MiB).toFixed(1)} MiB of files`);
});

t.test('cat of one file reads little', async (t) => {
  const out = new PassThrough();
  const got: Buffer[] = [];
  out.on('data', (d: Buffer) => got.push(d));
  const dep = `usr/lib/modules/${kernelOf()}/modules.dep`;
  const read = await bytesRead(() => catFiles(img, [dep], out));
  t.ok(Buffer.concat(got).toString().includes('kernel/fs/ext4/ext4.ko'), 'modules.dep');
  t.ok(read < 16 * MiB, `read ${(read / MiB).toFixed(1)} MiB`);
});

t.test('data cut off inside a skipped file is still truncation, named', async (t) => {
  const whole = readFileSync(img);
  // Inside the data of the largest file: the listing seeks over it, past the end of the file.
  const cut = join(work, 'cut.cpio');
  writeFileSync(cut, whole.subarray(0, Math.floor(whole.length / 2)));
  const r = rdrescue(['ls', cut]);
  t.equal(r.status, 3);
  t.match(r.stderr, /^rdrescue: .*cut\.cpio: segment 0: offset \d+: (entry ".+": truncated data: .+ needs \d+ bytes, \d+ missing|truncated cpio (header|name))/);
  t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
});

function kernelOf(): string {
  return /usr\/lib\/modules\/([^/]+)\/modules\.dep/.exec(execFileSync('cpio', ['-t', '--quiet'], { input: readFileSync(img), maxBuffer: 1 << 28 }).toString())![1]!;
}

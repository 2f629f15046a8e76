// A slow consumer must hold back a fast native decompressor: memory stays
// bounded by a few chunks, not by the member's size (a 3 GiB file inside an
// image must not need 3 GiB).
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { decoderFor } from '../../src/compression/index.js';
import type { MemberInput } from '../../src/compression/types.js';
import { FileSource } from '../../src/image/file-source.js';

// What the decoder holds is what stays alive: chunks the consumer is done with are garbage, and how much
// garbage V8 lets pile up before collecting differs between Node versions (Node 24: 243 MiB for gzip here).
// A reading over a third of the limit is taken again after a full collection (one at every chunk took minutes).
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Far below the 512 MiB member: a few chunks in flight, not the member. */
const LIMIT = 96 << 20;

const work = mkdtempSync(join(tmpdir(), 'rdrescue-backpressure-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

function input(buf: Buffer): MemberInput {
  let given = false;
  return {
    read: async () => {
      if (given) return null;
      given = true;
      return buf;
    },
    unread: () => undefined,
  };
}

for (const [format, cmd] of [
  ['gzip', ['gzip', '-c']],
  ['zstd', ['zstd', '-q', '-c', '-19']],
  ['xz', ['xz', '--check=crc32', '-c']],
  ['lzo', ['lzop', '-c']],
] as const) {
  const total = 512 << 20;
  const member = execFileSync('sh', ['-c', `head -c ${total} /dev/zero | ${cmd.join(' ')}`], { maxBuffer: 1 << 26 });
  const file = join(work, `zeros.${format}`);
  writeFileSync(file, member);
  // From a buffer the decoder feeds the program itself; from a file a program reads its byte range (dd).
  const ways: Array<[string, () => Promise<MemberInput>]> = [['fed from memory', async () => input(member)]];
  if (format !== 'gzip') ways.push(['read from a file', () => FileSource.open(file)]);
  for (const [how, open] of ways) {
    t.test(`${format}, ${how}: a slow consumer keeps the native decoder's output bounded`, async (t) => {
      const src = await open();
      let seen = 0;
      let peak = 0;
      gc();
      const base = process.memoryUsage().arrayBuffers;
      const held = () => process.memoryUsage().arrayBuffers - base;
      for await (const chunk of decoderFor(format)(src, { native: true })) {
        seen += chunk.length;
        let now = held();
        if (now >= LIMIT / 3) {
          gc();
          now = held();
        }
        peak = Math.max(peak, now);
        // A consumer far slower than the decompressor: a slow disk.
        if (seen < 64 << 20) await sleep(2);
      }
      if (src instanceof FileSource) await src.close();
      t.equal(seen, total, 'all output arrived');
      t.ok(peak < LIMIT, `peak buffered ${(peak / 1048576).toFixed(0)} MiB stays far below the member's ${total >> 20} MiB`);
    });
  }
}

// The kernel's xz decoder accepts only the none and CRC32 checks; xz's default is CRC64.
// info must say so for images that rdrescue itself reads without trouble.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { imageInfo } from '../../src/image/info.js';
import { xzCheckId } from '../../src/image/xz-check.js';
import { rdrescue } from '../helpers/cli.js';
import { compressWith, gnuCpio, makeSampleTree, padTo } from '../helpers/sample-tree.js';

const work = mkdtempSync(join(tmpdir(), 'rdrescue-xzcheck-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

const root = join(work, 'tree');
mkdirSync(root);
makeSampleTree(root);
const archive = gnuCpio(root);
const early = (() => {
  const r = join(work, 'early');
  mkdirSync(join(r, 'kernel/x86/microcode'), { recursive: true });
  writeFileSync(join(r, 'kernel/x86/microcode/GenuineIntel.bin'), Buffer.alloc(2000, 7));
  return padTo(gnuCpio(r), 512);
})();

function image(name: string, ...members: Buffer[]): string {
  const f = join(work, name);
  writeFileSync(f, Buffer.concat(members));
  return f;
}
const xz = (...args: string[]) => compressWith(['xz', '-c', ...args], archive);
/** The check name as xz itself lists it: the oracle for the header bytes we read. */
const xzListCheck = (b: Buffer) => {
  const f = join(work, 'member.xz');
  writeFileSync(f, b);
  return execFileSync('xz', ['--robot', '--list', f], { encoding: 'utf8' }).split('\n').find((l) => l.startsWith('file'))!.split('\t')[6];
};

t.test('the check ID read from the stream header is the one xz --list reports', async (t) => {
  const ids: Record<string, number> = { None: 0, CRC32: 1, CRC64: 4, 'SHA-256': 10 };
  for (const c of ['none', 'crc32', 'crc64', 'sha256']) {
    const m = xz(`--check=${c}`);
    const f = image(`plain-${c}.img`, m);
    t.equal(xzCheckId(f, 0), ids[xzListCheck(m)], `--check=${c}`);
  }
  t.equal(xzListCheck(xz()), 'CRC64', "xz's default check is CRC64");
  t.equal(xzCheckId(image('gz.img', compressWith(['gzip', '-n'], archive)), 0), undefined, 'not an xz stream');
});

t.test('xz --check=crc64 after early microcode: info warns, names the segment and what the kernel does', async (t) => {
  const f = image('crc64.img', early, xz('--check=crc64'));
  const i = await imageInfo(f);
  t.equal(i.segments.length, 2);
  t.equal(i.entries > 10, true, 'rdrescue itself reads the CRC64 member');
  t.same(i.warnings.map((w) => [w.segment, w.offset]), [[1, early.length + 7]]);
  t.match(i.warnings[0].message, `segment 1 (xz at offset ${early.length}) uses the CRC64 check (Check ID 4)`);
  t.match(i.warnings[0].message, /accepts only none and CRC32.*Input was encoded with settings that are not supported by this XZ decoder.*Initramfs unpacking failed.*recompress it with xz --check=crc32$/);
  t.notMatch(i.warnings[0].message, /after it/, 'nothing follows the last segment');

  const r = rdrescue(['info', f]);
  t.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n').filter((l) => l.startsWith('Warning:'));
  t.same(lines, [`Warning:      ${i.warnings[0].message}`]);
  const j = JSON.parse(rdrescue(['info', '--json', f]).stdout);
  t.same(j.warnings, i.warnings);
  t.ok(Array.isArray(j.segments) && j.microcode.length === 1, 'the rest of the JSON is unchanged');
});

t.test('later segments are named: the kernel stops unpacking at the refused member', async (t) => {
  const f = image('middle.img', early, padTo(xz('--check=sha256'), 4), compressWith(['gzip', '-n'], archive), xz('--check=crc32'));
  const i = await imageInfo(f);
  t.equal(i.segments.length, 4);
  t.equal(i.warnings.length, 1, 'only the SHA-256 member; the CRC32 one is fine');
  t.match(i.warnings[0].message, /^segment 1 .* uses the SHA-256 check \(Check ID 10\);.* without the files of this segment and of segments 2-3 after it;/);
});

t.test('no warning for what the kernel accepts: --check=crc32 (dracut, mkinitramfs) and --check=none', async (t) => {
  for (const c of ['crc32', 'none']) {
    const f = image(`ok-${c}.img`, early, xz(`--check=${c}`));
    const i = await imageInfo(f);
    t.same(i.warnings, [], c);
    t.notMatch(rdrescue(['info', f]).stdout, /Warning:/, c);
    t.same(JSON.parse(rdrescue(['info', '--json', f]).stdout).warnings, [], `${c}: warnings is an empty array in JSON`);
  }
});

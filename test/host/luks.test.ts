// LUKS on this machine, which has no device-mapper: what can be checked
// here is that a closed volume is reported and that a failed open leaves
// nothing behind. Opening for real is proven in the VM (test/vm/scenarios/rescue-host.ts).
import t from 'tap';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rdrescue } from '../helpers/cli.js';
import { buildDisk, loopsOf, mountsUnder, sh, withRange } from './disk.js';

function luksDisk() {
  const d = buildDisk('gpt', [{ sizeMiB: 16, fs: 'ext4', label: 'boot' }, { sizeMiB: 24, name: 'cryptroot' }]);
  const key = join(d.dir, 'key');
  writeFileSync(key, 'the right one');
  withRange(d.image, d.parts[1], (loop) => sh('cryptsetup', ['luksFormat', '-q', '--type', 'luks2', '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000', '--key-file', key, loop]));
  return d;
}

function records(): string[] {
  try {
    return readdirSync('/run/rdrescue/mounts');
  } catch {
    return [];
  }
}

t.test('a LUKS volume without a key is reported as not opened, with how to give one', async (t) => {
  const d = luksDisk();
  t.teardown(() => d.cleanup());
  const r = rdrescue(['mount', d.image, '--at', join(d.dir, 'root')], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.equal(r.status, 3);
  t.match(r.stderr, /partition 2 is LUKS2-encrypted and was not opened: give --passphrase-stdin or --key-file, or run rdrescue mount on a terminal\n$/);
  t.same(loopsOf(d.image), []);
});

t.test('a LUKS volume that cannot be opened: one line naming it, nothing left attached or recorded', async (t) => {
  const d = luksDisk();
  const dir = mkdtempSync(join(tmpdir(), 'rdrescue-at-'));
  t.teardown(() => {
    d.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  const before = records();
  const r = rdrescue(['mount', d.image, '--at', join(dir, 'root'), '--passphrase-stdin'], { input: 'the right one\n' });
  t.equal(r.status, 1);
  // here the kernel has no device-mapper; in the VM the same path is taken by a wrong passphrase
  t.match(r.stderr, /^rdrescue: .*disk\.img partition 2 \(LUKS2\): .*; nothing was left open\n$/);
  t.same(loopsOf(d.image), [], 'the carrier loop was detached');
  t.same(mountsUnder(dir), []);
  t.same(records(), before, 'no record left');
});

t.test('--passphrase-stdin and --key-file exclude each other', async (t) => {
  const r = rdrescue(['mount', 'x.img', '--passphrase-stdin', '--key-file', 'k'], { input: 'x' });
  t.equal(r.status, 2);
  t.equal(r.stderr, 'rdrescue: --passphrase-stdin and --key-file exclude each other\n');
});

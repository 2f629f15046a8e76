import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUNDLE, rdrescue } from '../helpers/cli.js';

const root = join(import.meta.dirname, '..', '..');
const FIXTURE = join(root, 'fixtures', 'example-image.img');

/** Runs the CLI in a private mount namespace whose /boot is a tmpfs holding only `files`: a container or CI runner. */
function withBoot(files: Array<{ name: string; from: string; mtime?: number }>, args: string[]) {
  const setup = ['mount -t tmpfs rdrescue-test /boot'];
  for (const f of files) setup.push(`cp ${f.from} /boot/${f.name}`, f.mtime ? `touch -d @${f.mtime} /boot/${f.name}` : ':');
  const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', `${setup.join(' && ')} && exec "$0" "$@"`, process.execPath, BUNDLE, ...args], {
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

t.test('info on a machine with no initramfs shows the example image, says so, exits 0', async (t) => {
  const r = withBoot([], ['info']);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stderr, /no initramfs in \/boot on this machine; showing the example image that ships with rdrescue.*rdrescue info IMAGE/);
  t.match(r.stdout, /^Image: +\(example image shipped with rdrescue\)$/m);
  t.match(r.stdout, /^Kernel: +6\.1\.0-example$/m);
  t.match(r.stdout, /^Microcode: +Intel \(segment 0, \d+ bytes\)$/m);
  t.match(r.stdout, /^ +0 +0 +\d+ +none +newc/m, 'an early uncompressed part');
  t.match(r.stdout, /^ +1 +\d+ +\d+ +gzip +newc/m, 'a gzip main part');
  const j = withBoot([], ['info', '--json']);
  t.equal(j.status, 0);
  t.same(JSON.parse(j.stdout).kernelVersions, ['6.1.0-example']);
});

t.test('the other commands still fail clearly without IMAGE when there is none', async (t) => {
  const r = withBoot([], ['ls']);
  t.equal(r.status, 3);
  t.match(r.stderr, /^rdrescue: no initramfs found for the running kernel .*looked for \/boot\/initrd\.img-.*\(give IMAGE explicitly\)\n$/);
  t.equal(r.stdout, '');
});

t.test('without an image for the running kernel, info reads the newest image in /boot', async (t) => {
  const r = withBoot(
    [
      { name: 'initrd.img-0.0.1-old', from: FIXTURE, mtime: 1_600_000_000 },
      { name: 'initramfs-0.0.2-new.img', from: FIXTURE, mtime: 1_700_000_000 },
    ],
    ['info'],
  );
  t.equal(r.status, 0, r.stderr);
  t.match(r.stderr, /using the newest in \/boot: \/boot\/initramfs-0\.0\.2-new\.img/);
  t.match(r.stdout, /^Image: +\/boot\/initramfs-0\.0\.2-new\.img$/m);
});

t.test('fixtures/example-image.img is what scripts/example-image.sh makes of fixtures/example-image', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rdrescue-example-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'rebuilt.img');
  const b = spawnSync(join(root, 'scripts', 'example-image.sh'), [out], { encoding: 'utf8' });
  t.equal(b.status, 0, b.stderr);
  const d = rdrescue(['diff', FIXTURE, out]);
  t.equal(d.status, 0, `the committed image is stale; regenerate it with: scripts/example-image.sh fixtures/example-image.img\n${d.stdout}`);
  const l = (img: string) => rdrescue(['ls', '-l', img]).stdout;
  t.equal(l(out), l(FIXTURE), 'same entries, modes, owners and times in each segment');
});

// A runbook's check step fails the run before any step has changed anything.
import t from 'tap';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rdrescue } from '../helpers/cli.js';
import { dracutImage, mkinitramfsImage } from '../helpers/real-images.js';
import { faultImage, KVER } from './images.js';

function target(image: string): string {
  const root = mkdtempSync(join(tmpdir(), 'rdrescue-rbcheck-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'etc'));
  mkdirSync(join(root, 'boot'));
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(root, 'etc/shadow'), 'root:*:19000:0:99999:7:::\n');
  writeFileSync(join(root, 'etc/fstab'), '/dev/vda / ext4 defaults 0 0\n');
  copyFileSync(image, join(root, 'boot', `initrd.img-${KVER}`));
  writeFileSync(join(root, 'runbook.yaml'), 'version: 1\nsteps:\n  - write: { path: /etc/motd, content: "rescued\\n" }\n  - check: {}\n');
  return root;
}

t.test('a broken image: the run stops at the check, exit 1, /etc/motd never written', async (t) => {
  const root = target(await faultImage('no-ext4', mkinitramfsImage(), (tree) => rmSync(join(tree, 'usr/lib/modules', KVER, 'kernel/fs/ext4'), { recursive: true })));
  const r = rdrescue(['run', join(root, 'runbook.yaml'), '--root', root, '--yes']);
  t.equal(r.status, 1, r.stdout + r.stderr);
  t.match(r.stderr, /step 2 \(check the newest \/boot image\): check of .*initrd\.img-\S+ failed: root-fs-driver-missing: .*nothing was changed/);
  t.notOk(existsSync(join(root, 'etc/motd')), 'the write step before the check did not run');
});

t.test('a good image: the check passes and the steps run', async (t) => {
  const root = target(dracutImage());
  const plan = rdrescue(['plan', join(root, 'runbook.yaml'), '--root', root]);
  t.match(plan.stdout, /checked before any step runs/);
  const r = rdrescue(['run', join(root, 'runbook.yaml'), '--root', root, '--yes']);
  t.equal(r.status, 0, r.stdout + r.stderr);
  t.ok(existsSync(join(root, 'etc/motd')));
});

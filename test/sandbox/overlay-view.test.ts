// The copy-on-write view the runbook engine's `run --sandbox` uses: writes,
// changes and deletions made through the view are listed and never reach
// the directory, and the host's mount table does not change, not even while
// the view is open.
import t from 'tap';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openOverlayView, withOverlayView } from '../../src/sandbox/overlay-view.js';
import { mountChanges, mountTable, processesWith } from './helpers.js';
import { snapshot } from '../helpers/tree.js';

const work = mkdtempSync(join(tmpdir(), 'rdrescue-sbtest-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

function sampleRoot(dir: string): string {
  mkdirSync(join(dir, 'etc/ssh'), { recursive: true });
  writeFileSync(join(dir, 'etc/shadow'), 'root:!:19000:0:99999:7:::\n');
  writeFileSync(join(dir, 'etc/fstab'), '/dev/vda / ext4 defaults 0 1\n');
  writeFileSync(join(dir, 'etc/hostname'), 'box\n');
  writeFileSync(join(dir, 'etc/ssh/sshd_config'), 'PermitRootLogin no\n');
  symlinkSync('/etc', join(dir, 'etc-link'));
  return dir;
}

t.test('changes through the view are listed and the directory is untouched', async (t) => {
  const root = sampleRoot(join(work, 'root'));
  const before = snapshot(root);
  const mounts = mountTable();
  const { result, changes } = await withOverlayView(root, (view) => {
    t.equal(readFileSync(join(view, 'etc/shadow'), 'utf8'), 'root:!:19000:0:99999:7:::\n', 'reads see the directory');
    t.same(mountChanges(mounts, mountTable(), [work]), [], 'nothing mounted on the host while the view is open');
    writeFileSync(join(view, 'etc/shadow'), 'root:$6$x$y:19000:0:99999:7:::\n');
    writeFileSync(join(view, 'etc/hostname'), 'box\n'); // rewritten with the same bytes: not a change
    unlinkSync(join(view, 'etc/fstab'));
    mkdirSync(join(view, 'root/.ssh'), { recursive: true });
    writeFileSync(join(view, 'root/.ssh/authorized_keys'), 'ssh-ed25519 AAAA test\n');
    chmodSync(join(view, 'etc/ssh/sshd_config'), 0o600);
    return 'done';
  });
  t.equal(result, 'done');
  t.same(changes, [
    { path: '/etc/fstab', change: 'deleted', type: 'file' },
    { path: '/etc/shadow', change: 'modified', type: 'file' },
    { path: '/etc/ssh/sshd_config', change: 'modified', type: 'file' },
    { path: '/root', change: 'added', type: 'dir' },
    { path: '/root/.ssh', change: 'added', type: 'dir' },
    { path: '/root/.ssh/authorized_keys', change: 'added', type: 'file' },
  ]);
  t.same(snapshot(root), before, 'the directory is byte-for-byte as before');
  t.same(mountChanges(mounts, mountTable(), [work]), []);
});

t.test('closing the view ends its helper and its namespace', async (t) => {
  const root = sampleRoot(join(work, 'root2'));
  const view = await openOverlayView(root);
  const pid = Number(view.dir.split('/')[2]);
  t.ok(existsSync(`/proc/${pid}`), 'the helper holds the namespace');
  await view.close();
  t.notOk(existsSync(view.dir));
  t.same(processesWith(String(pid)), []);
});

t.test('bad input', async (t) => {
  await t.rejects(withOverlayView(join(work, 'missing'), () => undefined), { message: /missing: not a directory$/ });
});

// Runbook paths resolve inside the target like a chroot would, except that
// "..", and links that climb above the root, are refused instead of clamped.
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveWithinTarget } from '../../src/index.js';

const root = mkdtempSync(join(tmpdir(), 'rb-path-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
mkdirSync(join(root, 'etc/ssh'), { recursive: true });
mkdirSync(join(root, 'usr/share/x'), { recursive: true });
symlinkSync('/usr/share/x', join(root, 'etc/abs')); // absolute: the target's /usr, never the host's
symlinkSync('../usr/share/x', join(root, 'etc/rel'));
symlinkSync('abs', join(root, 'etc/chain'));
symlinkSync('../../..', join(root, 'etc/up'));
symlinkSync('loop2', join(root, 'etc/loop1'));
symlinkSync('loop1', join(root, 'etc/loop2'));

t.test('links inside the target are followed inside it', async (t) => {
  t.same(resolveWithinTarget(root, '/etc/abs/f'), { inner: '/usr/share/x/f', links: ['/etc/abs -> /usr/share/x'] });
  t.equal(resolveWithinTarget(root, '/etc/rel/f').inner, '/usr/share/x/f');
  t.same(resolveWithinTarget(root, '/etc/chain/f').links, ['/etc/chain -> abs', '/etc/abs -> /usr/share/x']);
  t.equal(resolveWithinTarget(root, '/etc/abs', false).inner, '/etc/abs', 'the last link is kept when asked');
  t.equal(resolveWithinTarget(root, '/etc/./ssh//sshd_config').inner, '/etc/ssh/sshd_config');
});

t.test('path traversal: "..", relative paths and links climbing above the root are refused', async (t) => {
  t.throws(() => resolveWithinTarget(root, '/etc/../etc/passwd'), /contains "\.\."/);
  t.throws(() => resolveWithinTarget(root, 'etc/passwd'), /must be an absolute path/);
  t.throws(() => resolveWithinTarget(root, '/etc/up/x'), /the link \/etc\/up -> \.\.\/\.\.\/\.\. leads out of the target root/);
  t.throws(() => resolveWithinTarget(root, '/etc/loop1/x'), /too many levels of symbolic links/);
});

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from '../vm/cache.js';
import { installedKernel } from '../vm/kernel.js';
import { run } from '../vm/run.js';
import { ensureSea } from '../vm/sea.js';

// `npm run package` as a user runs it (gzip instead of xz, to save minutes),
// checked with Debian's and RPM's own tools, then the .deb installed into a
// real Debian root whose update-initramfs trigger must put the launcher into
// the image and take it out again on removal.
const SEA = ensureSea();
const version = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version as string;
const DEB = join(REPO, 'dist', `rdrescue_${version}_amd64.deb`);
const RPM = join(REPO, 'dist', `rdrescue-${version}-1.x86_64.rpm`);
const work = mkdtempSync(join(tmpdir(), 'rdrescue-package-test-'));
const mounts: string[] = [];
t.teardown(() => {
  while (mounts.length) spawnSync('umount', ['-l', mounts.pop()!]);
  rmSync(work, { recursive: true, force: true });
});

run(process.execPath, [join(REPO, 'scripts/package.mjs'), '--fast']);

const HOOK_FILES = [
  'usr/bin/rdrescue',
  'usr/lib/dracut/modules.d/95rdrescue/module-setup.sh',
  'usr/share/initramfs-tools/hooks/rdrescue',
  'usr/share/initramfs-tools/scripts/init-bottom/rdrescue-runbook',
  'usr/share/rdrescue/runbook.schema.json',
];

t.test('the .deb: files, trigger, dependencies, and lintian finds no error', async (t) => {
  const list = run('dpkg-deb', ['-c', DEB]);
  for (const f of HOOK_FILES) t.match(list, new RegExp(` \\./${f.replace(/\./g, '\\.')}$`, 'm'), `has /${f}`);
  t.match(list, /^-rwxr-xr-x root\/root +\d+ .* \.\/usr\/bin\/rdrescue$/m, 'the executable is root-owned and executable');
  t.equal(run('dpkg-deb', ['-I', DEB, 'triggers']), 'activate-noawait update-initramfs\n', 'install and removal activate update-initramfs');
  t.match(run('dpkg-deb', ['-f', DEB, 'Depends']), /libc6 \(>= [\d.]+\).*libstdc\+\+6/, 'Depends from dpkg-shlibdeps');
  const lint = spawnSync('lintian', ['--tag-display-limit', '0', DEB], { encoding: 'utf8' });
  t.notMatch(lint.stdout, /^E: /m, `lintian: no errors\n${lint.stdout}`);
});

t.test('the .rpm: files, scriptlets that rebuild the images, and rpmlint finds no error', async (t) => {
  const list = run('rpm', ['-qlp', RPM]);
  for (const f of HOOK_FILES) t.match(list, new RegExp(`^/${f.replace(/\./g, '\\.')}$`, 'm'), `has /${f}`);
  const scripts = run('rpm', ['-qp', '--scripts', RPM]);
  t.match(scripts, /posttrans scriptlet[^]*dracut -f --regenerate-all/, 'after install and upgrade the images are rebuilt');
  t.match(scripts, /postuninstall scriptlet[^]*if \[ "\$1" -eq 0 \][^]*dracut -f --regenerate-all/, 'and after the last erase');
  const lint = spawnSync('rpmlint', ['-r', join(REPO, 'packaging/rdrescue.rpmlintrc'), RPM], { encoding: 'utf8' });
  t.match(lint.stdout, / 0 errors, /, `rpmlint: no errors\n${lint.stdout}`);
});

t.test('the .rpm installs into a scratch root (rpm --root --nodeps) and erases cleanly', async (t) => {
  const root = join(work, 'rpmroot');
  mkdirSync(join(root, 'bin'), { recursive: true });
  mkdirSync(join(root, 'dev'));
  // A shell for the scriptlets, which find no dracut there and say nothing.
  copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
  symlinkSync('busybox', join(root, 'bin/sh'));
  writeFileSync(join(root, 'dev/null'), '');
  run('rpm', ['--root', root, '--initdb']);
  const i = spawnSync('rpm', ['--root', root, '--nodeps', '-i', RPM], { encoding: 'utf8' });
  t.equal(i.status, 0, `rpm -i (${i.stderr.trim()})`);
  for (const f of HOOK_FILES) t.ok(existsSync(join(root, f)), `/${f} installed`);
  t.same(readFileSync(join(root, 'usr/bin/rdrescue')).length, readFileSync(SEA).length, 'the executable is the single executable');
  const e = spawnSync('rpm', ['--root', root, '--nodeps', '-e', 'rdrescue'], { encoding: 'utf8' });
  t.equal(e.status, 0, `rpm -e (${e.stderr.trim()})`);
  for (const f of HOOK_FILES) t.notOk(existsSync(join(root, f)), `/${f} removed`);
});

t.test('in a Debian root, dpkg -i puts the launcher into the next image and dpkg -r takes it out', async (t) => {
  // The host is Debian 12 with initramfs-tools and a kernel: an overlay on it is a
  // real Debian root (debootstrap's without the download), and the host is never written.
  const ovl = join(work, 'ovl');
  mkdirSync(ovl);
  run('mount', ['-t', 'tmpfs', 'tmpfs', ovl]);
  mounts.push(ovl);
  for (const d of ['upper', 'work', 'root']) mkdirSync(join(ovl, d));
  const root = join(ovl, 'root');
  run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=/,upperdir=${ovl}/upper,workdir=${ovl}/work`, root]);
  mounts.push(root);
  for (const d of ['proc', 'sys', 'dev']) {
    run('mount', ['--bind', `/${d}`, join(root, d)]);
    mounts.push(join(root, d));
  }
  // A small image is built in seconds: only the modules a VM needs.
  const conf = join(root, 'etc/initramfs-tools/initramfs.conf');
  writeFileSync(conf, readFileSync(conf, 'utf8').replace(/^MODULES=.*$/m, 'MODULES=list'));
  writeFileSync(join(root, 'etc/initramfs-tools/modules'), 'virtio_blk\next4\n');
  const { kver } = installedKernel();
  const image = join(root, 'boot', `initrd.img-${kver}`);
  const launcherIn = () => spawnSync(SEA, ['ls', image], { encoding: 'utf8' }).stdout.split('\n').includes('usr/bin/rdrescue');
  t.notOk(launcherIn(), 'before: no rdrescue in the image');

  copyFileSync(DEB, join(root, 'tmp/rdrescue.deb'));
  const i = spawnSync('chroot', [root, 'dpkg', '-i', '/tmp/rdrescue.deb'], { encoding: 'utf8' });
  t.equal(i.status, 0, 'dpkg -i');
  t.match(i.stdout, /Processing triggers for initramfs-tools[^]*update-initramfs: Generating \/boot\/initrd\.img-/, 'the trigger rebuilt the image');
  t.ok(launcherIn(), 'rdrescue ls: usr/bin/rdrescue is in the image');
  t.match(spawnSync(SEA, ['cat', image, 'usr/bin/rdrescue'], { encoding: 'utf8' }).stdout, /^# rdrescue thin launcher/m, 'and it is the thin launcher');
  t.notOk(spawnSync(SEA, ['ls', image], { encoding: 'utf8' }).stdout.includes('usr/lib/rdrescue/lib/'), 'no library of rdrescue\'s');

  const r = spawnSync('chroot', [root, 'dpkg', '-r', 'rdrescue'], { encoding: 'utf8' });
  t.equal(r.status, 0, 'dpkg -r');
  t.match(r.stdout, /update-initramfs: Generating/, 'the trigger rebuilt the image again');
  t.notOk(existsSync(join(root, 'usr/share/initramfs-tools/hooks/rdrescue')), 'the hook is gone');
  t.notOk(launcherIn(), 'rdrescue ls: the launcher is gone from the rebuilt image');
});

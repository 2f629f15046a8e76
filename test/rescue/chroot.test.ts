// `rdrescue chroot` with real binaries (bash and coreutils with their
// libraries, copied by the mkroot closure): the API filesystems are mounted
// inside while the command runs, and all of them are gone afterwards, also
// when the command fails, is killed, or rdrescue itself gets SIGTERM.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mkroot } from '../../src/index.js';
import { BUNDLE, rdrescue } from '../helpers/cli.js';
import { mountsBelow } from '../helpers/ext4.js';
import { rhelRoot } from './helpers.js';

const PROGRAMS = ['bash', 'ls', 'cat', 'id', 'sleep', 'chroot'];

function chrootRoot(t: Parameters<typeof rhelRoot>[0]) {
  return rhelRoot(t, {
    rw: true,
    sizeMiB: 48,
    prepare: (d) => {
      mkroot(d, PROGRAMS);
      writeFileSync(join(d, 'etc/resolv.conf'), 'nameserver 192.0.2.1 # the target own\n');
    },
  });
}

/** Mount points seen from inside: field 5 of mountinfo, read with bash builtins only. */
const LIST_MOUNTS = 'while read -r a b c d mp rest; do echo "M $mp"; done < /proc/self/mountinfo';

t.test('mounts appear inside, the command runs as the target sees it, and everything is unmounted after', async (t) => {
  const r = chrootRoot(t);
  const res = rdrescue(['chroot', '--root', r.mnt, '--', '/bin/bash', '-c', `${LIST_MOUNTS}; id -u; cat /etc/os-release | while read -r l; do echo "O $l"; done; ls /dev/null; cat /etc/resolv.conf`]);
  t.equal(res.status, 0, res.stderr);
  const inside = res.stdout.split('\n').filter((l) => l.startsWith('M ')).map((l) => l.slice(2));
  for (const m of ['/', '/proc', '/sys', '/dev', '/dev/pts', '/run']) t.ok(inside.includes(m), `${m} mounted inside`);
  t.match(res.stdout, /^0$/m, 'id runs inside');
  t.match(res.stdout, /O PRETTY_NAME="Rocky Linux 9.4/, "the target's own /etc");
  t.match(res.stdout, /^\/dev\/null$/m);
  t.ok(res.stdout.endsWith(readFileSync('/etc/resolv.conf', 'utf8')), "the rescue system's resolv.conf is bound inside");
  t.same(mountsBelow(r.mnt), [r.mnt], 'only the root itself is left mounted');
  t.equal(readFileSync(join(r.mnt, 'etc/resolv.conf'), 'utf8'), 'nameserver 192.0.2.1 # the target own\n', "and the target's own file is back");
});

t.test('a failing command: its exit code, and the mounts are gone', async (t) => {
  const r = chrootRoot(t);
  const res = rdrescue(['chroot', '--root', r.mnt, '--', '/bin/bash', '-c', 'exit 7']);
  t.equal(res.status, 7);
  t.same(mountsBelow(r.mnt), [r.mnt]);
});

t.test('a killed command: 128+signal, and the mounts are gone', async (t) => {
  const r = chrootRoot(t);
  const res = rdrescue(['chroot', '--root', r.mnt, '--', '/bin/bash', '-c', 'kill -KILL $$']);
  t.equal(res.status, 137);
  t.same(mountsBelow(r.mnt), [r.mnt]);
});

t.test('SIGTERM to rdrescue is forwarded to the command, then the mounts are gone', async (t) => {
  const r = chrootRoot(t);
  const child = spawn(process.execPath, [BUNDLE, 'chroot', '--root', r.mnt, '--', '/bin/bash', '-c', 'echo started; exec sleep 60'], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((res) => child.stdout.on('data', (d: Buffer) => d.toString().includes('started') && res()));
  t.ok(mountsBelow(r.mnt).includes(`${r.mnt}/proc`), 'mounted while running');
  child.kill('SIGTERM');
  const code = await new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
  t.equal(code, 143, 'the command died of SIGTERM');
  t.same(mountsBelow(r.mnt), [r.mnt]);
});

t.test("the default command is the target's shell", async (t) => {
  const r = chrootRoot(t);
  const res = rdrescue(['chroot', '--root', r.mnt], { input: 'echo "in $0"; exit 4\n' });
  t.equal(res.status, 4, res.stderr);
  t.match(res.stdout, /in \/bin\/bash/);
  t.same(mountsBelow(r.mnt), [r.mnt]);
});

t.test("without a chroot program: the target's own chroot through its own loader, and unshare --root", async (t) => {
  const r = chrootRoot(t);
  for (const via of ['target-chroot', 'unshare']) {
    const res = rdrescue(['chroot', '--root', r.mnt, '--via', via, '--', '/bin/bash', '-c', `${LIST_MOUNTS}; exit 3`]);
    t.equal(res.status, 3, `${via}: ${res.stderr}`);
    t.match(res.stdout, /^M \/proc$/m, `${via}: entered the root with proc mounted`);
    t.same(mountsBelow(r.mnt), [r.mnt], `${via}: unmounted`);
  }
});

t.test('--dry-run lists the mounts and the command and mounts nothing', async (t) => {
  const r = chrootRoot(t);
  const res = rdrescue(['chroot', '--root', r.mnt, '--dry-run', '--', '/bin/true']);
  t.equal(res.status, 0, res.stderr);
  t.match(res.stdout, /would mount proc on \/proc\nwould mount sysfs \(read-only\) on \/sys\nwould mount dev \(bind\) on \/dev\nwould mount dev\/pts \(bind\) on \/dev\/pts\nwould mount run \(bind\) on \/run/);
  t.match(res.stdout, /would run \(via chroot\): \/bin\/true\nwould unmount \/etc\/resolv.conf\nwould unmount \/run\nwould unmount \/dev\/pts/);
  t.same(mountsBelow(r.mnt), [r.mnt]);
  t.notOk(existsSync(`${r.mnt}/proc/self`));
});

t.test('symlink escape: a target /proc or /run that is a symbolic link gets no mount', async (t) => {
  const r = rhelRoot(t, {
    rw: true,
    sizeMiB: 48,
    dirs: ['sys', 'dev', 'tmp', 'var/log', 'root'],
    prepare: (d) => {
      mkroot(d, PROGRAMS);
      symlinkSync('/etc', join(d, 'proc'));
      symlinkSync('../tmp', join(d, 'run'));
    },
  });
  const res = rdrescue(['chroot', '--root', r.mnt, '--', '/bin/bash', '-c', `ls /etc/os-release`]);
  t.equal(res.status, 0, res.stderr);
  t.match(res.stderr, /note: \/proc is a symbolic link in the target; not mounted/);
  t.match(res.stderr, /note: \/run is a symbolic link in the target; not mounted/);
  t.match(res.stdout, /^\/etc\/os-release$/m, "the target's /etc was not covered by proc");
  t.same(mountsBelow(r.mnt), [r.mnt]);
});

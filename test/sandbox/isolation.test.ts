// The seed's unshare lesson, proved against a busybox tree: inside the
// sandbox the shell is PID 1 and alone, the hostname, SysV IPC and network
// are its own, the tree is read-only unless --rw, and the host's mount table
// is the same before and after.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { rdrescue } from '../helpers/cli.js';
import { busyboxTree, mountChanges, mountTable } from './helpers.js';

const work = mkdtempSync(join(tmpdir(), 'rdrescue-sbtest-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const tree = busyboxTree(join(work, 'tree'));

function sandbox(args: string[], script: string) {
  return rdrescue(['sandbox', ...args, '--', '/bin/sh', '-c', script]);
}

t.test('PID namespace: ps -e shows the shell as PID 1 and nothing else', async (t) => {
  const r = sandbox([tree], 'ps -e; true');
  t.equal(r.status, 0, r.stderr);
  const rows = r.stdout.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/));
  t.equal(rows.length, 2, `the shell and ps itself:\n${r.stdout}`);
  t.same([rows[0][0], rows[0][2]], ['1', '/bin/sh'], 'PID 1 is the shell');
  t.match(rows[1].slice(2).join(' '), /ps -e/);
});

t.test('UTS namespace: the hostname is the given one inside and unchanged outside', async (t) => {
  const before = hostname();
  const r = sandbox([tree, '--hostname', 'rescue-box'], 'hostname');
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, 'rescue-box\n');
  t.equal(hostname(), before);
  t.equal(sandbox([tree], 'hostname').stdout, 'rdrescue-sandbox\n', 'a default name that says where you are');
});

t.test('IPC namespace: a host shared memory segment is not visible inside', async (t) => {
  const id = /(\d+)/.exec(execFileSync('ipcmk', ['-M', '4096']).toString())![1];
  t.teardown(() => void spawnSync('ipcrm', ['-m', id]));
  const host = readFileSync('/proc/sysvipc/shm', 'utf8').trim().split('\n');
  t.ok(host.some((l) => l.trim().split(/\s+/)[1] === id), 'the host lists the segment');
  const r = sandbox([tree], 'cat /proc/sysvipc/shm');
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout.trim().split('\n').length, 1, `only the header inside:\n${r.stdout}`);
});

t.test('network namespace: only lo', async (t) => {
  const r = sandbox([tree], 'ip -o link; ls /sys/class/net');
  t.equal(r.status, 0, r.stderr);
  const [links, sys] = [r.stdout.split('\n').filter((l) => /^\d+:/.test(l)), r.stdout.split('\n').filter((l) => l && !/^\d+:/.test(l))];
  t.same(links.map((l) => l.split(':')[1].trim()), ['lo']);
  t.same(sys, ['lo'], '/sys is the sandbox network namespace');
});

t.test('/proc, /dev and /sys are set up', async (t) => {
  const r = sandbox([tree], 'ls /dev; echo x > /dev/null && echo null-ok; touch /sys/x 2>/dev/null || echo sys-ro; readlink /proc/1/exe');
  t.equal(r.status, 0, r.stderr);
  const out = r.stdout.split('\n');
  for (const n of ['null', 'zero', 'random', 'urandom', 'tty', 'console']) t.ok(out.includes(n), `/dev/${n}`);
  t.ok(out.includes('null-ok'));
  t.ok(out.includes('sys-ro'));
  t.ok(out.includes('/bin/busybox'), 'proc shows the sandbox processes');
});

t.test('read-only by default, --overlay discards, --rw writes through', async (t) => {
  const ro = sandbox([tree], 'echo hi > /written');
  t.not(ro.status, 0);
  t.match(ro.stderr, /Read-only file system/);
  t.notOk(existsSync(join(tree, 'written')));
  const tmp = sandbox([tree], 'echo hi > /tmp/scratch && cat /tmp/scratch');
  t.equal(tmp.stdout, 'hi\n', '/tmp is a private tmpfs on a read-only tree');
  t.notOk(existsSync(join(tree, 'tmp/scratch')));

  const ov = sandbox([tree, '--overlay'], 'echo hi > /written && rm /bin/ls && echo ok');
  t.equal(ov.stdout, 'ok\n', ov.stderr);
  t.notOk(existsSync(join(tree, 'written')));
  t.ok(existsSync(join(tree, 'bin/ls')), 'a deletion stays inside the overlay');

  const rw = sandbox([tree, '--rw'], 'echo hi > /written');
  t.equal(rw.status, 0, rw.stderr);
  t.equal(readFileSync(join(tree, 'written'), 'utf8'), 'hi\n');
  rmSync(join(tree, 'written'));
});

t.test("the host's mount table is identical before and after", async (t) => {
  const before = mountTable();
  const r = sandbox([tree, '--bind', `${work}:/mnt`], 'cat /proc/self/mountinfo');
  t.equal(r.status, 0, r.stderr);
  t.ok(r.stdout.split('\n').length > 8, 'the sandbox had its own mounts');
  t.same(mountChanges(before, mountTable(), [work]), []);
});

t.test('exit status passes through', async (t) => {
  t.equal(sandbox([tree], 'exit 42').status, 42);
  t.equal(sandbox([tree], 'exit 0').status, 0);
  t.equal(sandbox([tree], 'kill -9 $$; sleep 1; exit 3').status, 3, 'PID 1 cannot be killed from inside: the shell carries on');
});

t.test('--bind', async (t) => {
  const src = join(work, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'note'), 'from the host\n');
  const r = sandbox([tree, '--bind', `${src}:/mnt/host`], 'cat /mnt/host/note; echo x > /mnt/host/new || echo bind-ro');
  t.equal(r.stdout, 'from the host\nbind-ro\n', r.stderr);
  t.notOk(existsSync(join(src, 'new')), 'binds are read-only without --rw');
  t.notOk(existsSync(join(tree, 'mnt/host')), 'the mount point was made in the overlay, not in the tree');

  const rw = sandbox([tree, '--rw', '--bind', `${src}:/mnt`], 'echo x > /mnt/new');
  t.equal(rw.status, 0, rw.stderr);
  t.ok(existsSync(join(src, 'new')));

  const file = sandbox([tree, '--bind', `${join(src, 'note')}:/etc/motd`], 'cat /etc/motd');
  t.equal(file.stdout, 'from the host\n', 'a file binds onto a file');
});

t.test('path traversal: ../ in a --bind destination is refused', async (t) => {
  const r = sandbox([tree, '--bind', `${work}:/mnt/../../escape`], 'true');
  t.equal(r.status, 4);
  t.match(r.stderr, /^rdrescue: --bind destination may not contain "\.\.": \/mnt\/\.\.\/\.\.\/escape\n$/);
  t.notOk(existsSync(join(work, 'escape')));
});

t.test('symlink escape: a --bind destination that is an absolute symlink lands inside the tree', async (t) => {
  const evil = busyboxTree(join(work, 'evil'));
  const hostTarget = join(work, 'host-etc');
  mkdirSync(hostTarget);
  // In the tree /data points at an absolute host-looking path; followed on the host it would mount over hostTarget.
  symlinkSync(hostTarget, join(evil, 'data'));
  const src = join(work, 'payload');
  mkdirSync(src);
  writeFileSync(join(src, 'f'), 'payload\n');
  const before = mountTable();
  const r = sandbox([evil, '--rw', '--bind', `${src}:/data/sub`], `cat ${hostTarget}/sub/f`);
  t.equal(r.stdout, 'payload\n', r.stderr);
  t.ok(existsSync(join(evil, hostTarget.slice(1), 'sub')), 'the mount point was created inside the tree, under the link target seen from the tree root');
  t.notOk(existsSync(join(hostTarget, 'sub')), 'nothing was created on the host');
  t.same(mountChanges(before, mountTable(), [work]), []);
});

t.test('bad input: one line, the right status, nothing left behind', async (t) => {
  const noSh = busyboxTree(join(work, 'nosh'), { sh: false });
  const r1 = rdrescue(['sandbox', noSh]);
  t.equal(r1.status, 127);
  t.equal(r1.stderr, `rdrescue: ${noSh}: the tree has no /bin/sh; give a command after --\n`);

  const r2 = rdrescue(['sandbox', tree, '--', 'no-such-program', 'x']);
  t.equal(r2.status, 127);
  t.equal(r2.stderr, `rdrescue: ${tree}: command not found inside the tree: no-such-program\n`);

  const r3 = rdrescue(['sandbox', join(work, 'missing.img')]);
  t.equal(r3.status, 2);
  t.equal(r3.stderr, `rdrescue: ${join(work, 'missing.img')}: no such file or directory\n`);

  // A dynamic program copied without its loader: the file is there, but exec would say "No such file or directory".
  copyFileSync('/usr/bin/true', join(noSh, 'bin/gnu-true'));
  const r4 = rdrescue(['sandbox', noSh, '--', '/bin/gnu-true']);
  t.equal(r4.status, 127);
  t.match(r4.stderr, /^rdrescue: .*: cannot run \/bin\/gnu-true: its interpreter \/lib64\/ld-linux-x86-64\.so\.2 is missing inside the tree\n$/);

  const r5 = rdrescue(['sandbox', tree, '--hostname', 'bad name']);
  t.equal(r5.status, 2);
  t.equal(r5.stderr.split('\n').length, 2, 'one line');

  const r6 = rdrescue(['sandbox', tree, '--net', 'bridge']);
  t.equal(r6.status, 2);
});

t.test('user namespace: an unprivileged caller is root inside, the tree stays read-only', async (t) => {
  // nobody must be able to read the bundle and the tree; the work dir is 0700 from mkdtemp.
  const bundleCopy = join(work, 'rdrescue.cjs');
  copyFileSync(join(import.meta.dirname, '../../dist/rdrescue.cjs'), bundleCopy);
  execFileSync('chmod', ['755', work]);
  // env -u: tap hooks child Node processes through NODE_OPTIONS and writes where nobody may not.
  const asNobody = (args: string[]) =>
    spawnSync('env', ['-u', 'NODE_OPTIONS', 'setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, bundleCopy, 'sandbox', tree, ...args], { encoding: 'utf8' });
  const r = asNobody(['--hostname', 'unpriv', '--', '/bin/sh', '-c', 'id -u; hostname; ps -o pid,comm; echo x > /f']);
  t.equal(r.stdout.split('\n').slice(0, 2).join(' '), '0 unpriv', r.stderr);
  t.match(r.stdout, /^\s*1 sh$/m, 'PID 1 is the shell');
  t.equal(r.stdout.trim().split('\n').length, 5, 'two processes (sh, ps) under the header');
  t.not(r.status, 0);
  t.equal(r.stderr, "/bin/sh: can't create /f: Read-only file system\n");
  const veth = asNobody(['--net', 'veth']);
  t.equal(veth.status, 4);
  t.equal(veth.stderr, 'rdrescue: --net veth needs root: an unprivileged user cannot add interfaces to the host\n');
});

t.test('kernel module loading: the sandboxed root has no CAP_SYS_MODULE (nor raw I/O, reboot, clock)', async (t) => {
  const r = sandbox([tree], 'grep CapBnd /proc/self/status');
  t.equal(r.status, 0, r.stderr);
  const bnd = BigInt(`0x${r.stdout.trim().split(/\s+/)[1]}`);
  const has = (bit: number) => ((bnd >> BigInt(bit)) & 1n) === 1n;
  for (const [name, bit] of [['sys_module', 16], ['sys_rawio', 17], ['sys_boot', 22], ['sys_time', 25], ['syslog', 34]] as const) t.notOk(has(bit), `no ${name}`);
  t.ok(has(21) && has(0), 'sys_admin and chown stay: the root inside can still mount and repair files');
});

t.test('--userns as root: root inside maps to root outside through a user namespace', async (t) => {
  const r = sandbox([tree, '--userns'], 'cat /proc/self/uid_map; ps -o pid,comm; true');
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /^\s*0\s+0\s+1\n/, 'a one-uid map, not the initial namespace');
  t.match(r.stdout, /^\s*1 sh$/m);
});

t.test('a setup step that fails is reported in one line, and the sandbox never starts', async (t) => {
  // A host `hostname` that fails stands for any failing setup command (mount, ip, ...).
  const fakeBin = join(work, 'fakebin');
  mkdirSync(fakeBin);
  writeFileSync(join(fakeBin, 'hostname'), '#!/bin/sh\necho "hostname: cannot set name: simulated failure" >&2\nexit 1\n', { mode: 0o755 });
  const before = mountTable();
  const r = rdrescue(['sandbox', tree, '--', '/bin/sh', '-c', 'echo should-not-run'], { env: { ...process.env, PATH: `${fakeBin}:${process.env.PATH}` } });
  t.equal(r.status, 1);
  t.equal(r.stdout, '', 'the command did not run');
  t.equal(r.stderr, `rdrescue: ${tree}: sandbox setup failed: hostname: cannot set name: simulated failure\n`);
  t.same(mountChanges(before, mountTable(), [work]), []);
});

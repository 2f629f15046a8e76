// Every way passwd can be handed bad input or a busy/unwritable target:
// one clear line, a non-zero exit, and the target exactly as it was.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rdrescue, BUNDLE, type CliResult } from '../helpers/cli.js';
import type { Ext4Root } from '../helpers/ext4.js';
import { checkShadowUnlocked, procLockHolders } from '../../src/index.js';
import { isReadOnly, rhelRoot, shadowLine, systemCryptVerifies } from './helpers.js';

const PW = 'Secret-never-shown-42';

/** Files a passwd run may create; none may exist after a refused one. */
const TRACES = ['etc/shadow-', 'etc/shadow+', '.autorelabel', 'var/log/rdrescue.log', 'var/lib/rdrescue'];

function snapshot(r: Ext4Root) {
  return {
    shadow: existsSync(join(r.mnt, 'etc/shadow')) ? readFileSync(join(r.mnt, 'etc/shadow')) : null,
    traces: TRACES.filter((p) => existsSync(join(r.mnt, p))),
  };
}

function refused(t: Tap, res: CliResult, code: number, msg: RegExp) {
  t.equal(res.status, code, `exit ${code}`);
  t.match(res.stderr, msg);
  t.equal(res.stderr.trim().split('\n').length, 1, 'one line');
  t.match(res.stderr, /^rdrescue: /);
  t.notOk(res.stderr.includes(PW) || res.stdout.includes(PW), 'the password is not echoed');
}
type Tap = Pick<typeof t, 'equal' | 'match' | 'notOk'>;

t.test('unknown user', async (t) => {
  const r = rhelRoot(t);
  const before = snapshot(r);
  const res = rdrescue(['passwd', 'nosuchuser', '--root', r.mnt, '--password-stdin'], { input: PW });
  refused(t, res, 3, /unknown user "nosuchuser": not in the target's \/etc\/passwd/);
  t.same(snapshot(r), before);
  t.ok(isReadOnly(r.mnt), 'not even remounted');
});

t.test('a root without etc/shadow', async (t) => {
  const r = rhelRoot(t, { prepare: (d) => rmSync(join(d, 'etc/shadow')), files: {} });
  const res = rdrescue(['passwd', 'root', '--root', r.mnt, '--password-stdin'], { input: PW });
  refused(t, res, 3, /the target has no \/etc\/shadow/);
  t.same(snapshot(r), { shadow: null, traces: [] });
  t.ok(isReadOnly(r.mnt));
});

t.test('a directory that is not a Linux root is refused', async (t) => {
  const r = rhelRoot(t, { prepare: (d) => rmSync(join(d, 'etc/passwd')) });
  const res = rdrescue(['passwd', 'root', '--root', r.mnt, '--password-stdin'], { input: PW });
  refused(t, res, 4, /is not a Linux root: it has no etc\/passwd/);
});

t.test('a read-only filesystem that cannot be remounted (losetup -r)', async (t) => {
  const r = rhelRoot(t, { readOnlyDevice: true });
  const before = snapshot(r);
  const res = rdrescue(['passwd', 'root', '--root', r.mnt, '--password-stdin'], { input: PW });
  refused(t, res, 1, /cannot remount .* rw: .*blockdev --getro .*nothing was changed/);
  t.match(res.stderr, /cannot remount \/dev\/loop\d+ read-write, is write-protected/, "mount's own first line, not its pointer to dmesg");
  t.same(snapshot(r), before);
  t.ok(isReadOnly(r.mnt));
});

t.test('an ext4 whose superblock records errors: refused with the exact fsck command; --force writes', async (t) => {
  const r = rhelRoot(t, { recordedErrors: true });
  const before = snapshot(r);
  const res = rdrescue(['passwd', 'root', '--root', r.mnt, '--password-stdin'], { input: PW });
  refused(t, res, 4, new RegExp(`${r.loop} \\(ext4, mounted at ${r.mnt}\\) has 2 errors recorded in the superblock; .*Check it first: umount ${r.mnt} && e2fsck -f ${r.loop}, .*--force`));
  t.same(snapshot(r), before);
  t.ok(isReadOnly(r.mnt), 'not even remounted');
  const forced = rdrescue(['passwd', 'root', '--root', r.mnt, '--password-stdin', '--force'], { input: PW });
  t.equal(forced.status, 0, forced.stderr);
  t.match(forced.stdout, /although it has 2 errors recorded in the superblock \(--force\); check it soon: umount/);
  const remount = rdrescue(['remount', 'ro', '--root', r.mnt]);
  t.equal(remount.status, 0, 'going read-only needs no --force');
});

t.test('a shadow line with the wrong number of fields', async (t) => {
  const r = rhelRoot(t, {
    prepare: (d) => {
      const p = join(d, 'etc/shadow');
      writeFileSync(p, readFileSync(p, 'utf8').replace(/^(root:[^:]*:\d+):0:/m, '$1:'));
    },
  });
  const before = snapshot(r);
  const res = rdrescue(['passwd', 'root', '--root', r.mnt, '--password-stdin'], { input: PW });
  refused(t, res, 3, /etc\/shadow: line 1 \(user "root"\) has 8 fields, a shadow entry has 9/);
  t.same(snapshot(r), before);
});

t.test('a password from a closed or empty stdin', async (t) => {
  const r = rhelRoot(t);
  const before = snapshot(r);
  const empty = rdrescue(['passwd', 'root', '--root', r.mnt, '--password-stdin'], { stdio: ['ignore', 'pipe', 'pipe'] });
  refused(t, empty, 2, /stdin was empty or closed: no password read/);
  // fd 0 really closed, not /dev/null
  const closed = spawnSync('sh', ['-c', `exec 0<&-; exec "${process.execPath}" "${BUNDLE}" passwd root --root "${r.mnt}" --password-stdin`], { encoding: 'utf8' });
  t.not(closed.status, 0);
  t.match(closed.stderr, /^rdrescue: (cannot read the password from stdin|stdin was empty or closed)/);
  t.same(snapshot(r), before);
  t.ok(isReadOnly(r.mnt));
});

t.test('no terminal and no --password-stdin: says how to pass one', async (t) => {
  const r = rhelRoot(t);
  const res = spawnSync('setsid', [process.execPath, BUNDLE, 'passwd', 'root', '--root', r.mnt], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  t.equal(res.status, 2);
  t.match(res.stderr, /no terminal to ask for the password; use --password-stdin/);
});

/** Holds a POSIX (fcntl) write lock on `path` the way glibc's lckpwdf does, until killed. */
function fcntlHolder(path: string) {
  const child = spawn('perl', ['-e', `use Fcntl; open(my $f, '>>', $ARGV[0]) or die; fcntl($f, F_SETLK, my $l = pack('s s x4 q q l x4', F_WRLCK, 0, 0, 0, 0)) or die "lock: $!"; $| = 1; print "held\\n"; sleep 600`, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = new Promise<void>((res) => child.stdout.once('data', () => res()));
  return { child, ready };
}

t.test('a lock held by a live process: the fcntl lock on /etc/.pwd.lock', async (t) => {
  const r = rhelRoot(t, { rw: true });
  const holder = fcntlHolder(join(r.mnt, 'etc/.pwd.lock'));
  t.teardown(() => void holder.child.kill('SIGKILL'));
  await holder.ready;
  const before = snapshot(r);
  const res = rdrescue(['passwd', 'root', '--root', r.mnt, '--password-stdin'], { input: PW });
  refused(t, res, 5, new RegExp(`etc/.pwd.lock: locked by running process ${holder.child.pid} \\(perl\\) \\(fcntl lock\\)`));
  t.same(snapshot(r), before);
  holder.child.kill('SIGKILL');
  await new Promise((res) => holder.child.once('exit', res));
  const ok = rdrescue(['passwd', 'root', '--root', r.mnt, '--password-stdin'], { input: PW });
  t.equal(ok.status, 0, 'works once the holder is gone');
});

t.test('the fcntl lock we take is the one other tools see (a second locker is refused while we hold it)', async (t) => {
  const r = rhelRoot(t, { rw: true });
  const paused = spawn(process.execPath, [BUNDLE, 'passwd', 'root', '--root', r.mnt, '--password-stdin'], {
    env: { ...process.env, RDRESCUE_TEST: '1', RDRESCUE_TEST_PAUSE_AT: 'temp-written' },
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  paused.stdin.end(PW);
  await new Promise<void>((res) => paused.stderr.on('data', (d: Buffer) => d.toString().includes('paused at') && res()));
  const probe = spawnSync('perl', ['-e', `use Fcntl; open(my $f, '>>', $ARGV[0]) or die; print fcntl($f, F_SETLK, my $l = pack('s s x4 q q l x4', F_WRLCK, 0, 0, 0, 0)) ? "got" : "busy"`, join(r.mnt, 'etc/.pwd.lock')], { encoding: 'utf8' });
  t.equal(probe.stdout, 'busy', 'an independent fcntl locker cannot take /etc/.pwd.lock');
  t.equal(readFileSync(join(r.mnt, 'etc/shadow.lock'), 'utf8'), String(paused.pid), '/etc/shadow.lock holds our PID');
  paused.kill('SIGKILL');
  await new Promise((res) => paused.once('exit', res));
});

t.test('a lock held by a live process: /etc/shadow.lock naming a running PID', async (t) => {
  const r = rhelRoot(t, { rw: true });
  const sleeper = spawn('sleep', ['600'], { stdio: 'ignore' });
  t.teardown(() => void sleeper.kill('SIGKILL'));
  writeFileSync(join(r.mnt, 'etc/shadow.lock'), String(sleeper.pid));
  const before = snapshot(r);
  const res = rdrescue(['passwd', 'root', '--root', r.mnt, '--password-stdin', '--force'], { input: PW });
  refused(t, res, 5, new RegExp(`shadow.lock: locked by running process ${sleeper.pid} \\(sleep\\)`));
  t.same(snapshot(r), before, '--force never breaks a live lock');
});

t.test('a stale /etc/shadow.lock is reported, and broken only with --force', async (t) => {
  const dead = spawnSync('true').pid!;
  const r2 = rhelRoot(t, {
    prepare: (d) => {
      writeFileSync(join(d, 'etc/shadow.lock'), String(dead));
    },
  });
  const before = snapshot(r2);
  const res = rdrescue(['passwd', 'root', '--root', r2.mnt, '--password-stdin'], { input: PW });
  refused(t, res, 5, new RegExp(`stale lock \\(process ${dead} is not running\\); re-run with --force`));
  t.same(snapshot(r2), before);
  t.ok(isReadOnly(r2.mnt), 'refused before remounting');
  const forced = rdrescue(['passwd', 'root', '--root', r2.mnt, '--password-stdin', '--force'], { input: PW });
  t.equal(forced.status, 0, forced.stderr);
  t.match(forced.stdout, /broke the stale lock .*shadow.lock/);
  t.ok(systemCryptVerifies(PW, shadowLine(readFileSync(join(r2.mnt, 'etc/shadow'), 'utf8'), 'root')[1]));
  t.notOk(existsSync(join(r2.mnt, 'etc/shadow.lock')));

  // a lock file older than this boot is stale whatever its PID says (PIDs restart at boot)
  const live = rhelRoot(t, { rw: true });
  writeFileSync(join(live.mnt, 'etc/shadow.lock'), String(process.pid));
  utimesSync(join(live.mnt, 'etc/shadow.lock'), new Date(0), new Date(0));
  const old = rdrescue(['passwd', 'root', '--root', live.mnt, '--password-stdin'], { input: PW });
  refused(t, old, 5, /stale lock \(process \d+ from an earlier boot\)/);
});

t.test('symlink escape: an absolute etc/shadow link resolves inside the target, never to the rescue system', async (t) => {
  const hostShadow = readFileSync('/etc/shadow');
  const r = rhelRoot(t, {
    rw: true,
    prepare: (d) => {
      spawnSync('mkdir', ['-p', join(d, 'data')]);
      spawnSync('mv', [join(d, 'etc/shadow'), join(d, 'data/shadow')]);
      spawnSync('ln', ['-s', '/data/shadow', join(d, 'etc/shadow')]);
    },
    files: {},
  });
  const res = rdrescue(['passwd', 'root', '--root', r.mnt, '--password-stdin'], { input: PW });
  t.equal(res.status, 0, res.stderr);
  t.same(readFileSync('/etc/shadow'), hostShadow, "the rescue system's /etc/shadow is untouched");
  t.ok(systemCryptVerifies(PW, shadowLine(readFileSync(join(r.mnt, 'data/shadow'), 'utf8'), 'root')[1]), "the target's /data/shadow got the new hash");
});

t.test('/proc/locks names the holder of an fcntl lock (the check used where no perl or python3 can take the lock)', async (t) => {
  const r = rhelRoot(t, { rw: true });
  const path = join(r.mnt, 'etc/.pwd.lock');
  const holder = fcntlHolder(path);
  t.teardown(() => void holder.child.kill('SIGKILL'));
  await holder.ready;
  t.same(procLockHolders(path), [holder.child.pid]);
  t.throws(() => checkShadowUnlocked(r.mnt), { message: new RegExp(`locked by running process ${holder.child.pid} \\(perl\\) \\(fcntl lock\\)`), exitCode: 5 });
  holder.child.kill('SIGKILL');
  await new Promise((res) => holder.child.once('exit', res));
  t.same(procLockHolders(path), []);
});

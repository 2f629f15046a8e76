// The rd.break procedure (remount rw, chroot, passwd, touch /.autorelabel)
// done by `rdrescue passwd` on real ext4 filesystems mounted read-only from
// a writable loop device, exactly like /sysroot. The system's crypt (perl,
// libxcrypt) and debugfs are the oracles.
import t from 'tap';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { rdrescue } from '../helpers/cli.js';
import { debugfsCat, debugfsStat } from '../helpers/ext4.js';
import { resetPassword, planPassword, readJournal } from '../../src/index.js';
import { OLD_ROOT_PASSWORD, debianRoot, isReadOnly, rhelRoot, shadowLine, systemCryptVerifies, today } from './helpers.js';

const NEW = 'n3w-Pässword!';

t.test('passwd on a RHEL-like root at rd.break: remounts, hashes, keeps the rest, relabels', async (t) => {
  const r = rhelRoot(t);
  const shadow = join(r.mnt, 'etc/shadow');
  const before = readFileSync(shadow);
  t.ok(isReadOnly(r.mnt), 'starts read-only like /sysroot');
  const res = rdrescue(['passwd', 'root', '--root', r.mnt, '--password-stdin'], { input: `${NEW}\n` });
  t.equal(res.status, 0, res.stderr);
  t.notOk(isReadOnly(r.mnt), 'remounted rw');
  t.match(res.stdout, /remount .* rw/);
  const after = readFileSync(shadow);
  const hash = shadowLine(after.toString(), 'root')[1];
  t.match(hash, /^\$6\$[./0-9A-Za-z]{16}\$/, 'a $6$ hash with a 16-character salt');
  t.ok(systemCryptVerifies(NEW, hash), 'the system crypt accepts the new password');
  t.notOk(systemCryptVerifies(OLD_ROOT_PASSWORD, hash), 'and no longer the old one');
  t.equal(shadowLine(after.toString(), 'root')[2], String(today()), 'lastchg is today');
  const b = before.toString().split('\n');
  const a = after.toString().split('\n');
  t.equal(a.length, b.length);
  t.same(a.slice(1), b.slice(1), 'every other line byte-identical');
  t.same(shadowLine(after.toString(), 'root').slice(3), shadowLine(before.toString(), 'root').slice(3), 'the fields after lastchg unchanged');
  const st = statSync(shadow);
  t.equal(st.mode & 0o7777, 0, 'mode 0000 kept');
  t.equal(st.uid, 0);
  t.equal(st.gid, 0);
  t.same(readFileSync(join(r.mnt, 'etc/shadow-')), before, 'shadow- holds the old content');
  t.ok(existsSync(join(r.mnt, '.autorelabel')), 'SELinux enforcing: /.autorelabel created');
  t.notOk(existsSync(join(r.mnt, 'etc/shadow.lock')), 'lock released');
  t.notOk(existsSync(join(r.mnt, 'etc/shadow+')), 'no temporary file left');
  const log = readFileSync(join(r.mnt, 'var/log/rdrescue.log'), 'utf8');
  t.notOk(log.includes(NEW), 'the journal never holds the password');
  t.notMatch(log, /\$6\$[./0-9A-Za-z]|\$y\$/, 'nor a hash, new or old');
  t.notOk(res.stdout.includes(NEW) || res.stderr.includes(NEW) || res.stdout.includes(hash), 'nor does the output');
  const st2 = rdrescue(['status', '--root', r.mnt]);
  t.match(st2.stdout, /1 .* passwd root/);

  r.unmount();
  t.same(debugfsCat(r.image, '/etc/shadow'), after, 'debugfs reads the same shadow from the unmounted image');
  t.same(debugfsStat(r.image, '/etc/shadow'), { mode: 0, uid: 0, gid: 0 });
  t.same(debugfsCat(r.image, '/etc/shadow-'), before);
});

t.test('passwd on a Debian-like root: group shadow and 0640 kept, "!" lock replaced, no relabel without SELinux', async (t) => {
  const r = debianRoot(t);
  const shadow = join(r.mnt, 'etc/shadow');
  const before = readFileSync(shadow, 'utf8');
  t.equal(shadowLine(before, 'admin')[1][0], '!', 'admin starts locked');
  const res = rdrescue(['passwd', 'admin', '--root', r.mnt, '--password-stdin'], { input: 'adminpw' });
  t.equal(res.status, 0, res.stderr);
  const after = readFileSync(shadow, 'utf8');
  const hash = shadowLine(after, 'admin')[1];
  t.ok(systemCryptVerifies('adminpw', hash));
  t.notOk(hash.startsWith('!'), 'the lock went with the old hash');
  const st = statSync(shadow);
  t.equal(st.mode & 0o7777, 0o640);
  t.equal(st.gid, 42, 'group shadow kept');
  t.notOk(existsSync(join(r.mnt, '.autorelabel')), 'no SELinux config: no /.autorelabel');
  t.match(res.stdout, /SELinux is not configured/);
  r.unmount();
  t.equal(debugfsCat(r.image, '/etc/shadow').toString(), after);
  t.same(debugfsStat(r.image, '/etc/shadow'), { mode: 0o640, uid: 0, gid: 42 });
});

t.test('--dry-run prints the plan and changes nothing, not even the mount', async (t) => {
  const r = rhelRoot(t);
  const before = readFileSync(join(r.mnt, 'etc/shadow'));
  const res = rdrescue(['passwd', 'root', '--root', r.mnt, '--password-stdin', '--dry-run'], { input: NEW });
  t.equal(res.status, 0, res.stderr);
  t.match(res.stdout, /would: remount/);
  t.match(res.stdout, /would: \/etc\/shadow: password of root replaced/);
  t.match(res.stdout, /would: \/.autorelabel: created/);
  t.ok(isReadOnly(r.mnt), 'still read-only');
  t.same(readFileSync(join(r.mnt, 'etc/shadow')), before);
  t.notOk(existsSync(join(r.mnt, '.autorelabel')));
});

t.test('--hash, --no-relabel, --expire, --clear-expiry and idempotence', async (t) => {
  const r = rhelRoot(t, { rw: true });
  const shadow = join(r.mnt, 'etc/shadow');
  const hash = '$y$j9T$abcdefghijklmnop$0123456789012345678901234567890123456789012';
  let res = rdrescue(['passwd', 'bin', '--root', r.mnt, '--hash', hash, '--no-relabel']);
  t.equal(res.status, 0, res.stderr);
  t.equal(shadowLine(readFileSync(shadow, 'utf8'), 'bin')[1], hash, 'the crypt string is used as given');
  t.notOk(existsSync(join(r.mnt, '.autorelabel')), '--no-relabel');
  t.match(res.stdout, /--no-relabel was given/);
  res = rdrescue(['passwd', 'bin', '--root', r.mnt, '--hash', hash, '--no-relabel']);
  t.match(res.stdout, /already done, nothing to change/, 'the same hash again on the same day changes nothing');
  t.equal(readJournal(r.mnt).length, 1, 'and journals nothing');

  res = rdrescue(['passwd', 'bob', '--root', r.mnt, '--password-stdin', '--no-relabel'], { input: 'bobnew' });
  t.equal(res.status, 0, res.stderr);
  t.match(res.stdout, /account of bob expired on day 19300 .* --clear-expiry/);
  t.equal(shadowLine(readFileSync(shadow, 'utf8'), 'bob')[7], '19300', 'expiry kept without --clear-expiry');
  res = rdrescue(['passwd', 'bob', '--root', r.mnt, '--password-stdin', '--no-relabel', '--clear-expiry', '--expire'], { input: 'bobnew' });
  t.equal(res.status, 0, res.stderr);
  const bob = shadowLine(readFileSync(shadow, 'utf8'), 'bob');
  t.equal(bob[7], '', 'expiry cleared');
  t.equal(bob[2], '0', '--expire: change at next login');
});

t.test('library API: planPassword is side-effect free, resetPassword applies it', async (t) => {
  const r = debianRoot(t);
  const plan = planPassword(r.mnt, { user: 'root', password: 'libpw' });
  t.equal(plan.satisfied, false);
  t.equal(plan.remount?.to, 'rw');
  t.same(plan.changes.map((c) => c.path), ['/etc/shadow']);
  t.ok(isReadOnly(r.mnt));
  const res = await resetPassword({ root: r.mnt, user: 'root', password: 'libpw' });
  t.equal(res.applied, true);
  t.equal(res.journalId, 1);
  t.ok(systemCryptVerifies('libpw', shadowLine(readFileSync(join(r.mnt, 'etc/shadow'), 'utf8'), 'root')[1]));
});

// unlock, relabel and status --undo on real ext4 roots.
import t from 'tap';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { planUnlock, readJournal, unlockUser } from '../../src/index.js';
import { rdrescue } from '../helpers/cli.js';
import { debianRoot, isReadOnly, rhelRoot, shadowLine, systemCryptVerifies } from './helpers.js';

t.test('unlock: removes the "!" lock, clears a passed expiry, resets a persistent faillock tally', async (t) => {
  const r = rhelRoot(t, {
    prepare: (d) => {
      mkdirSync(join(d, 'var/lib/faillock'), { recursive: true });
      writeFileSync(join(d, 'var/lib/faillock/bob'), Buffer.alloc(64, 1));
    },
  });
  const shadow = join(r.mnt, 'etc/shadow');
  const before = readFileSync(shadow, 'utf8');
  let res = rdrescue(['unlock', 'alice', '--root', r.mnt]);
  t.equal(res.status, 0, res.stderr);
  t.notOk(isReadOnly(r.mnt));
  const alice = shadowLine(readFileSync(shadow, 'utf8'), 'alice');
  t.ok(systemCryptVerifies('alicepw', alice[1]), 'the old password works again');
  t.equal(alice[2], shadowLine(before, 'alice')[2], 'lastchg untouched: the password did not change');
  t.ok(existsSync(join(r.mnt, '.autorelabel')), 'shadow replaced under SELinux: relabel');

  res = rdrescue(['unlock', 'bob', '--root', r.mnt]);
  t.equal(res.status, 0, res.stderr);
  t.match(res.stdout, /account expiry \(day 19300, passed\) cleared/);
  t.match(res.stdout, /faillock tally of bob reset \(64 bytes/);
  t.equal(shadowLine(readFileSync(shadow, 'utf8'), 'bob')[7], '');
  t.equal(readFileSync(join(r.mnt, 'var/lib/faillock/bob')).length, 0);
  res = rdrescue(['unlock', 'bob', '--root', r.mnt]);
  t.match(res.stdout, /unlock bob: already done/, 'idempotent');

  res = rdrescue(['unlock', 'daemon', '--root', r.mnt]);
  t.match(res.stdout, /already done/);
  t.match(res.stdout, /daemon has no password \("\*"\)/);
});

t.test('unlock refuses to leave an account with no password behind a bare "!"', async (t) => {
  const r = debianRoot(t, {
    prepare: (d) => {
      const p = join(d, 'etc/shadow');
      writeFileSync(p, readFileSync(p, 'utf8').replace(/^admin:[^:]*:/m, 'admin:!:'));
    },
  });
  const before = readFileSync(join(r.mnt, 'etc/shadow'));
  const res = rdrescue(['unlock', 'admin', '--root', r.mnt]);
  t.equal(res.status, 4);
  t.match(res.stderr, /no password behind its "!" lock.*rdrescue passwd admin/);
  t.same(readFileSync(join(r.mnt, 'etc/shadow')), before);
  t.ok(isReadOnly(r.mnt));
});

t.test('library: planUnlock plans, unlockUser applies and journals', async (t) => {
  const r = debianRoot(t);
  const plan = planUnlock(r.mnt, { user: 'admin' });
  t.same(plan.changes.map((c) => c.description).flat(), ['"!" lock removed from the password of admin']);
  const res = await unlockUser({ root: r.mnt, user: 'admin' });
  t.equal(res.journalId, 1);
  t.same(readJournal(r.mnt).map((e) => [e.action, e.subject]), [['unlock', 'admin']]);
});

t.test('relabel and relabel --undo, with a note when SELinux is off', async (t) => {
  const r = debianRoot(t);
  let res = rdrescue(['relabel', '--root', r.mnt]);
  t.equal(res.status, 0, res.stderr);
  t.ok(existsSync(join(r.mnt, '.autorelabel')));
  t.match(res.stdout, /SELinux is not configured in the target, so \/.autorelabel has no effect/);
  res = rdrescue(['relabel', '--root', r.mnt]);
  t.match(res.stdout, /already done/);
  res = rdrescue(['relabel', '--root', r.mnt, '--undo']);
  t.equal(res.status, 0, res.stderr);
  t.notOk(existsSync(join(r.mnt, '.autorelabel')));
});

t.test('status --undo LAST after passwd restores the old shadow from the journal copy', async (t) => {
  const r = rhelRoot(t);
  const shadow = join(r.mnt, 'etc/shadow');
  const original = readFileSync(shadow);
  t.equal(rdrescue(['passwd', 'root', '--root', r.mnt, '--password-stdin'], { input: 'pw-one-1' }).status, 0);
  t.equal(rdrescue(['passwd', 'root', '--root', r.mnt, '--password-stdin', '--no-relabel'], { input: 'pw-two-2' }).status, 0);
  const afterTwo = readFileSync(shadow);
  let res = rdrescue(['status', '--root', r.mnt, '--undo', 'LAST']);
  t.equal(res.status, 0, res.stderr);
  t.ok(systemCryptVerifies('pw-one-1', shadowLine(readFileSync(shadow, 'utf8'), 'root')[1]), 'back to the first new password');
  t.equal(readFileSync(shadow).length, afterTwo.length);
  res = rdrescue(['status', '--root', r.mnt, '--undo', '1']);
  t.equal(res.status, 0, res.stderr);
  t.same(readFileSync(shadow), original, 'and to the original bytes');
  // the fixture's shadow never had a label: withdrawing the request would boot enforcing with it unlabeled_t
  t.ok(existsSync(join(r.mnt, '.autorelabel')), 'the relabel request made by change 1 stays: the restored shadow has no label');
  t.match(res.stdout, /\/\.autorelabel is kept: \/etc\/shadow still has no SELinux label/);
  const log = readFileSync(join(r.mnt, 'var/log/rdrescue.log'), 'utf8');
  t.notMatch(log, /\$6\$[./0-9A-Za-z]|\$y\$|pw-one|pw-two/, 'no hash or password in the journal');

  // a file changed after the entry is not overwritten silently
  t.equal(rdrescue(['passwd', 'root', '--root', r.mnt, '--password-stdin', '--no-relabel'], { input: 'three' }).status, 0);
  writeFileSync(shadow, Buffer.concat([readFileSync(shadow), Buffer.from('extra:*:1:0:99999:7:::\n')]));
  res = rdrescue(['status', '--root', r.mnt, '--undo', 'LAST']);
  t.equal(res.status, 4);
  t.match(res.stderr, /etc\/shadow: changed since entry 5 \(passwd\); re-run with --force/);
});

t.test('path traversal: a crafted journal in the target cannot make undo write outside it', async (t) => {
  const r = debianRoot(t, { rw: true });
  const outside = join(r.dir, 'outside-victim');
  writeFileSync(outside, 'untouched\n');
  mkdirSync(join(r.mnt, 'var/lib/rdrescue/undo/1'), { recursive: true });
  writeFileSync(join(r.mnt, 'var/lib/rdrescue/undo/1/x'), 'planted\n');
  const entry = { id: 1, time: '2026-01-01T00:00:00Z', action: 'passwd', summary: [], files: [{ path: '/../outside-victim', existed: true, saved: '/var/lib/rdrescue/undo/1/x' }] };
  writeFileSync(join(r.mnt, 'var/log/rdrescue.log'), JSON.stringify(entry) + '\n');
  const res = rdrescue(['status', '--root', r.mnt, '--undo', 'LAST', '--force']);
  t.equal(res.status, 0, res.stderr);
  t.equal(readFileSync(outside, 'utf8'), 'untouched\n', 'the file beside the mount is untouched');
  t.equal(readFileSync(join(r.mnt, 'outside-victim'), 'utf8'), 'planted\n', '".." stopped at the target root');
});

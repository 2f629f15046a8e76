// Every runbook step on real ext4 roots mounted read-only like /sysroot:
// its plan, its apply, its idempotence (a second run changes nothing), and
// a failure in the middle (the report lists done / failed / not run, and
// the target is as the done steps left it). debugfs reads the result.
import t from 'tap';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { debugfsCat, debugfsStat } from '../helpers/ext4.js';
import { isReadOnly, shadowLine, systemCryptVerifies } from '../rescue/helpers.js';
import { formatReport, loadRunbook, mkroot, parseRunbook, planRunbook, readJournal, runRunbook } from '../../src/index.js';
import { RUNBOOKS, RUNBOOK_KEY, RUNBOOK_ROOT_PASSWORD, debianRoot, lockedOutRoot } from './helpers.js';

const rb = (yaml: string) => parseRunbook(yaml, 'test.yaml', { env: { ROOTPW: 'from-the-env' } });

t.test('the example runbook: plan, run, journal, second run changes nothing, debugfs agrees', async (t) => {
  const r = lockedOutRoot(t);
  const book = loadRunbook(join(RUNBOOKS, 'rescue.yaml'));
  const plan = planRunbook(book, { root: r.mnt });
  // the plan says what run will do: relabel: auto finds the request passwd makes first, and the final
  // remount: ro is a change because by then remount: rw has opened the target
  t.same(plan.steps.map((s) => s.status), ['change', 'change', 'change', 'change', 'change', 'change', 'satisfied', 'change']);
  t.match(plan.steps[6].lines.join('\n'), /an earlier step creates \/\.autorelabel/);
  t.match(plan.steps[7].lines.join('\n'), /would: remount .* ro/);
  t.ok(isReadOnly(r.mnt), 'planning changed nothing, not even the mount');
  t.notOk(existsSync(join(r.mnt, 'etc/motd')));

  const run = await runRunbook(book, { root: r.mnt });
  t.ok(run.ok, formatReport(run).join('\n'));
  t.same(run.steps.map((s) => s.status), ['done', 'done', 'done', 'done', 'done', 'done', 'unchanged', 'done']);
  t.ok(isReadOnly(r.mnt), 'the last step remounted ro');
  const shadow = readFileSync(join(r.mnt, 'etc/shadow'), 'utf8');
  t.ok(systemCryptVerifies(RUNBOOK_ROOT_PASSWORD, shadowLine(shadow, 'root')[1]), 'root has the new password');
  t.notOk(shadowLine(shadow, 'alice')[1].startsWith('!'), 'alice unlocked');
  t.match(readFileSync(join(r.mnt, 'etc/fstab'), 'utf8'), /^#LABEL=backup\s+\/mnt\/backup/m, 'fstab entry commented out');
  t.equal(readFileSync(join(r.mnt, 'etc/motd'), 'utf8'), 'Repaired by rdrescue runbook.\n');
  const ssh = lstatSync(join(r.mnt, 'home/alice/.ssh'));
  t.same([ssh.mode & 0o7777, ssh.uid, ssh.gid], [0o700, 1000, 1000], '.ssh 0700 alice');
  const ak = statSync(join(r.mnt, 'home/alice/.ssh/authorized_keys'));
  t.same([ak.mode & 0o7777, ak.uid, ak.gid], [0o600, 1000, 1000], 'authorized_keys 0600 alice');
  t.equal(readFileSync(join(r.mnt, 'home/alice/.ssh/authorized_keys'), 'utf8'), `${RUNBOOK_KEY}\n`);
  t.ok(existsSync(join(r.mnt, '.autorelabel')), 'SELinux enforcing: relabel requested');
  const journal = readJournal(r.mnt);
  t.same(journal.map((e) => e.action), ['remount rw', 'passwd', 'unlock', 'fstab --disable', 'write', 'ssh-key', 'remount ro', 'runbook']);
  t.notMatch(JSON.stringify(journal), /\$6\$/, 'no hash in the journal');

  const again = await runRunbook(book, { root: r.mnt });
  t.ok(again.ok);
  t.equal(again.changed, 0, 'second run: nothing changed');
  t.ok(again.steps.every((s) => s.status === 'unchanged'));
  t.match(formatReport(again).join('\n'), /nothing changed: all 8 steps were already done/);
  t.ok(isReadOnly(r.mnt), 'not even a remount');
  t.equal(readJournal(r.mnt).length, journal.length, 'and nothing journaled');

  r.unmount();
  t.equal(debugfsCat(r.image, '/etc/shadow').toString(), shadow);
  t.same(debugfsStat(r.image, '/home/alice/.ssh/authorized_keys'), { mode: 0o600, uid: 1000, gid: 1000 });
  t.equal(debugfsCat(r.image, '/etc/motd').toString(), 'Repaired by rdrescue runbook.\n');
});

t.test('passwd from password_env and password_file: idempotent by verifying the current hash', async (t) => {
  const r = debianRoot(t);
  const book = rb('version: 1\nsteps:\n  - passwd: { user: admin, password_env: ROOTPW }\n');
  t.equal(planRunbook(book, { root: r.mnt }).steps[0].status, 'change');
  t.ok((await runRunbook(book, { root: r.mnt })).ok);
  const hash = shadowLine(readFileSync(join(r.mnt, 'etc/shadow'), 'utf8'), 'admin')[1];
  t.ok(systemCryptVerifies('from-the-env', hash));
  const again = await runRunbook(book, { root: r.mnt });
  t.equal(again.steps[0].status, 'unchanged', 'the same password again: no new salt, no change');
  t.equal(shadowLine(readFileSync(join(r.mnt, 'etc/shadow'), 'utf8'), 'admin')[1], hash);

  const fromFile = loadRunbook(join(RUNBOOKS, 'password-file.yaml'));
  t.ok((await runRunbook(fromFile, { root: r.mnt })).ok);
  t.ok(systemCryptVerifies('from-a-file', shadowLine(readFileSync(join(r.mnt, 'etc/shadow'), 'utf8'), 'root')[1]), 'password_file is read relative to the runbook');
});

t.test('fstab nofail, relabel true/false/auto, unlock: plan, apply, second plan satisfied', async (t) => {
  const r = lockedOutRoot(t);
  const book = rb('version: 1\nsteps:\n  - unlock: { user: alice }\n  - fstab: { nofail: /mnt/backup }\n  - relabel: false\n');
  const run = await runRunbook(book, { root: r.mnt });
  t.ok(run.ok, formatReport(run).join('\n'));
  t.notOk(shadowLine(readFileSync(join(r.mnt, 'etc/shadow'), 'utf8'), 'alice')[1].startsWith('!'), 'alice unlocked');
  t.match(readFileSync(join(r.mnt, 'etc/fstab'), 'utf8'), /\/mnt\/backup\s+ext4\s+defaults,noatime,nofail\s/);
  t.equal(readFileSync(join(r.mnt, 'etc/fstab.rdrescue.bak'), 'utf8'), readFileSync(join('fixtures/rescue/rhel/etc/fstab'), 'utf8'), 'backup kept');
  t.notOk(existsSync(join(r.mnt, '.autorelabel')), 'relabel: false removed the /.autorelabel that unlock created (SELinux is on)');
  t.same(planRunbook(book, { root: r.mnt }).steps.map((s) => s.status), ['satisfied', 'satisfied', 'satisfied'], 'a second plan finds everything done');

  const d = debianRoot(t);
  const auto = rb('version: 1\nsteps:\n  - relabel: auto\n');
  const p = planRunbook(auto, { root: d.mnt });
  t.equal(p.steps[0].status, 'satisfied', 'auto without SELinux: nothing to do');
  t.match(p.steps[0].lines.join('\n'), /SELinux is not configured/);
  const on = rb('version: 1\nsteps:\n  - relabel: true\n');
  t.ok((await runRunbook(on, { root: d.mnt })).ok);
  t.ok(existsSync(join(d.mnt, '.autorelabel')), 'relabel: true creates it even without SELinux');
  t.equal((await runRunbook(on, { root: d.mnt })).changed, 0, 'and a second run changes nothing');
});

t.test('write: content, mode, owner, backup; through a link inside the target; metadata-only change; second run nothing', async (t) => {
  const r = lockedOutRoot(t, {
    prepare: (s) => {
      writeFileSync(join(s, 'etc/issue'), 'old issue\n');
      symlinkSync('/etc/issue', join(s, 'etc/issue.link'));
    },
  });
  const book = rb('version: 1\nsteps:\n  - write: { path: /etc/issue.link, content: "new issue\\n", mode: "0640", owner: "alice:0" }\n  - write: { path: /etc/new.conf, content: "a=1\\n", backup: false }\n');
  const plan = planRunbook(book, { root: r.mnt });
  t.match(plan.steps[0].lines.join('\n'), /through \/etc\/issue.link -> \/etc\/issue/);
  const run = await runRunbook(book, { root: r.mnt });
  t.ok(run.ok, formatReport(run).join('\n'));
  t.ok(lstatSync(join(r.mnt, 'etc/issue.link')).isSymbolicLink(), 'the link stays a link');
  t.equal(readFileSync(join(r.mnt, 'etc/issue'), 'utf8'), 'new issue\n');
  const st = statSync(join(r.mnt, 'etc/issue'));
  t.same([st.mode & 0o7777, st.uid, st.gid], [0o640, 1000, 0]);
  t.equal(readFileSync(join(r.mnt, 'etc/issue.rdrescue.bak'), 'utf8'), 'old issue\n', 'backup by default');
  t.equal(readFileSync(join(r.mnt, 'etc/new.conf'), 'utf8'), 'a=1\n');
  t.equal((await runRunbook(book, { root: r.mnt })).changed, 0, 'second run changes nothing');

  const chmodOnly = rb('version: 1\nsteps:\n  - write: { path: /etc/issue, content: "new issue\\n", mode: "0600" }\n');
  const p2 = planRunbook(chmodOnly, { root: r.mnt });
  t.equal(p2.steps[0].status, 'change');
  t.match(p2.steps[0].lines.join('\n'), /mode 0640 -> 0600/);
  t.ok((await runRunbook(chmodOnly, { root: r.mnt })).ok);
  t.equal(statSync(join(r.mnt, 'etc/issue')).mode & 0o7777, 0o600);
  t.equal(readJournal(r.mnt).filter((e) => e.action === 'write').length, 3, 'the metadata change is journaled too');
});

t.test('ssh-key: appends to an existing file without duplicating, fixes modes', async (t) => {
  const other = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBL6ZzF1K7mJ0WwQ6l8Gx0PqvC0m1zRkq0YV3s9m2n8T other@host';
  const r = lockedOutRoot(t, {
    prepare: (s) => {
      mkdirSync(join(s, 'home/alice/.ssh'), { mode: 0o755 });
      writeFileSync(join(s, 'home/alice/.ssh/authorized_keys'), other); // no trailing newline
      chownSync(join(s, 'home/alice/.ssh'), 1000, 1000);
      chmodSync(join(s, 'home/alice/.ssh'), 0o755);
      chmodSync(join(s, 'home/alice/.ssh/authorized_keys'), 0o644);
    },
  });
  // the same key with another comment is the same key
  const book = rb(`version: 1\nsteps:\n  - ssh-key: { user: alice, key: "${RUNBOOK_KEY}" }\n  - ssh-key: { user: alice, key: "${RUNBOOK_KEY.replace('rescuer@example', 'again')}" }\n`);
  const run = await runRunbook(book, { root: r.mnt });
  t.ok(run.ok, formatReport(run).join('\n'));
  t.same(run.steps.map((s) => s.status), ['done', 'unchanged']);
  t.equal(readFileSync(join(r.mnt, 'home/alice/.ssh/authorized_keys'), 'utf8'), `${other}\n${RUNBOOK_KEY}\n`);
  t.equal(statSync(join(r.mnt, 'home/alice/.ssh')).mode & 0o7777, 0o700);
  const ak = statSync(join(r.mnt, 'home/alice/.ssh/authorized_keys'));
  t.same([ak.mode & 0o7777, ak.uid], [0o600, 1000]);
  t.equal((await runRunbook(book, { root: r.mnt })).changed, 0);
});

t.test('a failing step in the middle: stops there, report lists done / failed / not run, target as the done steps left it', async (t) => {
  const r = lockedOutRoot(t);
  const fstabBefore = readFileSync(join(r.mnt, 'etc/fstab'));
  const shadowBefore = readFileSync(join(r.mnt, 'etc/shadow'), 'utf8');
  const book = loadRunbook(join(RUNBOOKS, 'fails-midway.yaml'));
  const run = await runRunbook(book, { root: r.mnt });
  t.notOk(run.ok);
  t.equal(run.failedStep, 3);
  t.same(run.steps.map((s) => s.status), ['done', 'done', 'failed', 'not run', 'not run']);
  t.match(run.steps[2].error, /no-such-program.*exited with status 127/);
  const text = formatReport(run).join('\n');
  t.match(text, /stopped at step 3: 2 done, 0 already done, 1 failed, 2 not run; the target is as steps 1, 2 left it/);
  t.ok(systemCryptVerifies(RUNBOOK_ROOT_PASSWORD, shadowLine(readFileSync(join(r.mnt, 'etc/shadow'), 'utf8'), 'root')[1]), 'step 1 done');
  t.equal(readFileSync(join(r.mnt, 'etc/motd'), 'utf8'), 'step 2 was here\n', 'step 2 done');
  t.same(readFileSync(join(r.mnt, 'etc/fstab')), fstabBefore, 'step 4 not run');
  t.equal(shadowLine(readFileSync(join(r.mnt, 'etc/shadow'), 'utf8'), 'alice')[1], shadowLine(shadowBefore, 'alice')[1], 'step 5 not run');
  t.notOk(existsSync(join(r.mnt, 'proc/self')), 'the chroot mounts were undone');
  const last = readJournal(r.mnt).pop()!;
  t.equal(last.action, 'runbook');
  t.match(last.summary.join('\n'), /step 3 chroot .*: failed: .*status 127/);
});

t.test('chroot: runs in the target with real binaries after remount rw; creates: makes it idempotent', async (t) => {
  const r = lockedOutRoot(t, { sizeMiB: 48, prepare: (d) => mkroot(d, ['bash']) });
  const book = rb('version: 1\nsteps:\n  - remount: rw\n  - chroot: { run: [bash, -c, "echo regenerated > /etc/regenerated"], creates: /etc/regenerated }\n  - remount: ro\n');
  const plan = planRunbook(book, { root: r.mnt });
  t.same(plan.steps.map((s) => s.status), ['change', 'change', 'change'], 'remount: ro is a change once remount: rw has run');
  t.match(plan.steps[1].lines.join('\n'), /would run in the target \(via \w+\): bash -c/);
  const run = await runRunbook(book, { root: r.mnt });
  t.ok(run.ok, formatReport(run).join('\n'));
  t.equal(readFileSync(join(r.mnt, 'etc/regenerated'), 'utf8'), 'regenerated\n', "the command ran with the target's own bash, writing into the target");
  t.ok(isReadOnly(r.mnt));
  t.match(readJournal(r.mnt).map((e) => `${e.action}: ${e.summary.join(' ')}`).join('\n'), /chroot: ran in the target: bash -c .* \(exit status 0\)/);
  const again = await runRunbook(book, { root: r.mnt });
  t.equal(again.changed, 0, 'creates: exists, so the command does not run again, and no remount');
  t.match(again.steps[1].lines.join('\n'), /\/etc\/regenerated exists in the target; not running/);
});

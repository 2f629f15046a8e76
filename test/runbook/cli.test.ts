// The CLI as a rescuer uses it: plan, run --dry-run (equal to plan), the
// --yes rule without a terminal, exit codes, --json, and --sandbox leaving
// the original byte-identical (sha256 of the image file before/after).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUNDLE, rdrescue } from '../helpers/cli.js';
import { debugfsCat, mountsBelow } from '../helpers/ext4.js';
import { isReadOnly, shadowLine, systemCryptVerifies } from '../rescue/helpers.js';
import { RUNBOOKS, RUNBOOK_ROOT_PASSWORD, lockedOutRoot } from './helpers.js';

const RESCUE = join(RUNBOOKS, 'rescue.yaml');
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

t.test('plan and run --dry-run print the same thing and change nothing; run without a terminal needs --yes', async (t) => {
  const r = lockedOutRoot(t);
  const plan = rdrescue(['plan', RESCUE, '--root', r.mnt]);
  t.equal(plan.status, 0, plan.stderr);
  t.match(plan.stdout, /step 2 \(line 7\) passwd root: would change/);
  t.match(plan.stdout, /7 of 8 steps would change the target, 1 already done/);
  t.notMatch(plan.stdout, /\$6\$/, 'the hash is not printed');
  const dry = rdrescue(['run', RESCUE, '--root', r.mnt, '--dry-run']);
  t.equal(dry.status, 0);
  t.equal(dry.stdout, plan.stdout, 'run --dry-run equals plan');
  t.same(JSON.parse(rdrescue(['run', RESCUE, '--root', r.mnt, '--dry-run', '--json']).stdout), JSON.parse(rdrescue(['plan', RESCUE, '--root', r.mnt, '--json']).stdout), 'also as JSON');
  const refused = rdrescue(['run', RESCUE, '--root', r.mnt], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.equal(refused.status, 4);
  t.match(refused.stderr, /refusing to change the target without --yes: there is no terminal/);
  t.ok(isReadOnly(r.mnt));
  t.notOk(existsSync(join(r.mnt, 'etc/motd')), 'nothing changed');

  const run = rdrescue(['run', RESCUE, '--root', r.mnt, '--yes', '--json']);
  t.equal(run.status, 0, run.stderr);
  const report = JSON.parse(run.stdout);
  t.equal(report.changed, 7);
  t.same(report.steps.map((s: { status: string }) => s.status), ['done', 'done', 'done', 'done', 'done', 'done', 'unchanged', 'done']);
  t.ok(systemCryptVerifies(RUNBOOK_ROOT_PASSWORD, shadowLine(readFileSync(join(r.mnt, 'etc/shadow'), 'utf8'), 'root')[1]));

  const again = rdrescue(['run', RESCUE, '--root', r.mnt]);
  t.equal(again.status, 0, 'nothing to change: no --yes needed');
  t.match(again.stdout, /nothing changed: all 8 steps were already done/);
  const status = rdrescue(['status', '--root', r.mnt]);
  t.match(status.stdout, /runbook rescue\.yaml/);
});

t.test('a failing step: exit 1 and the report on stdout', async (t) => {
  const r = lockedOutRoot(t);
  const res = rdrescue(['run', join(RUNBOOKS, 'fails-midway.yaml'), '--root', r.mnt, '--yes']);
  t.equal(res.status, 1);
  t.match(res.stdout, /step 3 \(line 6\) chroot \/usr\/bin\/no-such-program --regenerate-all: FAILED: .*status 127/);
  t.match(res.stdout, /step 4 \(line 7\) fstab disable \/mnt\/backup: not run/);
  t.match(res.stdout, /stopped at step 3: 2 done, 0 already done, 1 failed, 2 not run/);
});

t.test('run --sandbox: the diff of what would change, the original byte-identical', async (t) => {
  const r = lockedOutRoot(t);
  const before = sha(r.image);
  const res = rdrescue(['run', RESCUE, '--root', r.mnt, '--sandbox']);
  t.equal(res.status, 0, res.stderr);
  t.match(res.stdout, /sandbox: a copy-on-write view; the target itself is not changed/);
  t.match(res.stdout, /^modified \/etc\/fstab$/m);
  t.match(res.stdout, /^ {4}-LABEL=backup {12}\/mnt\/backup/m);
  t.match(res.stdout, /^ {4}\+#LABEL=backup {12}\/mnt\/backup/m);
  t.match(res.stdout, /^added \/etc\/motd: mode 0644, owner 0:0$/m);
  t.match(res.stdout, /^ {4}\+Repaired by rdrescue runbook\.$/m);
  t.match(res.stdout, /^added \/home\/alice\/\.ssh \(dir\): mode 0700, owner 1000:1000$/m);
  t.match(res.stdout, /^modified \/etc\/shadow$/m);
  t.match(res.stdout, /^ {4}-alice:<locked hash 107 chars>:19100:/m, 'the shadow diff shows which fields changed');
  t.notMatch(res.stdout, /\$6\$|\$y\$/, 'but never a hash');
  t.match(res.stdout, /^added \/\.autorelabel/m);
  t.ok(isReadOnly(r.mnt), 'the target was never remounted');
  t.notOk(existsSync(join(r.mnt, 'etc/motd')));
  t.notOk(existsSync(join(r.mnt, 'var/log/rdrescue.log')));
  // other tests mount their own roots meanwhile, so look for ours: the view's overlay and anything under the target
  t.notMatch(readFileSync('/proc/self/mountinfo', 'utf8'), /rdrescue-view/, 'no overlay view left in the host mount table');
  t.same(mountsBelow(r.mnt), [r.mnt], 'nothing mounted under the target');
  const json = JSON.parse(rdrescue(['run', RESCUE, '--root', r.mnt, '--sandbox', '--json']).stdout);
  t.ok(json.changes.some((c: { path: string; change: string }) => c.path === '/etc/motd' && c.change === 'added'));
  r.unmount();
  t.equal(sha(r.image), before, 'the image file is byte-identical');
  t.equal(debugfsCat(r.image, '/etc/fstab').toString(), readFileSync('fixtures/rescue/rhel/etc/fstab', 'utf8'));
});

t.test('on a terminal without --yes: the plan is shown and asked about; "n" changes nothing, "y" applies', async (t) => {
  const r = lockedOutRoot(t);
  const cmd = `'${process.execPath}' '${BUNDLE}' run '${RESCUE}' --root '${r.mnt}'`;
  const no = spawnSync('script', ['-qec', cmd, '/dev/null'], { input: 'n\n', encoding: 'utf8', timeout: 60_000 });
  t.match(no.stdout, /7 of 8 steps would change the target/);
  t.match(no.stdout, /apply these changes to .*\? \[y\/N\]/);
  t.match(no.stdout, /not confirmed; nothing was changed/);
  t.equal(no.status, 4);
  t.notOk(existsSync(join(r.mnt, 'etc/motd')));
  t.ok(isReadOnly(r.mnt));
  const yes = spawnSync('script', ['-qec', cmd, '/dev/null'], { input: 'y\n', encoding: 'utf8', timeout: 60_000 });
  t.equal(yes.status, 0, yes.stdout);
  t.match(yes.stdout, /7 of 8 steps changed the target/);
  t.ok(existsSync(join(r.mnt, 'etc/motd')));
});

t.test('a step that cannot be planned: plan says so and exits 3, run refuses before changing anything', async (t) => {
  const r = lockedOutRoot(t);
  const rb = join(r.dir, 'rb.yaml');
  // a step that only an earlier write makes possible: planned in its turn
  writeFileSync(rb, 'version: 1\nsteps:\n  - remount: rw\n  - write: { path: /etc/fstab, content: "LABEL=data /data ext4 defaults 0 2\\n" }\n  - fstab: { disable: /data }\n  - remount: ro\n');
  const plan = rdrescue(['plan', rb, '--root', r.mnt]);
  t.equal(plan.status, 0, 'plannable in order');
  t.match(plan.stdout, /step 3 \(line 5\) fstab disable \/data: CANNOT BE PLANNED\n {4}cannot be planned: .*no entry mounts \/data \(it is planned again after the earlier steps have run\)/);
  const dry = rdrescue(['run', rb, '--root', r.mnt, '--dry-run']);
  t.equal(dry.stdout, plan.stdout, 'run --dry-run equals plan here too');
  const run = rdrescue(['run', rb, '--root', r.mnt, '--yes']);
  t.equal(run.status, 0, run.stdout + run.stderr);
  t.equal(readFileSync(join(r.mnt, 'etc/fstab'), 'utf8'), '#LABEL=data /data ext4 defaults 0 2\n');

  writeFileSync(rb, 'version: 1\nsteps:\n  - remount: rw\n  - fstab: { disable: /no/such/mount }\n  - passwd: { user: alice, hash: "$6$abc$def" }\n  - unlock: { user: alice }\n');
  const before = readFileSync(join(r.mnt, 'etc/shadow'));
  t.equal(rdrescue(['plan', rb, '--root', r.mnt]).status, 3, 'plan exits 3');
  const refused = rdrescue(['run', rb, '--root', r.mnt, '--yes']);
  t.equal(refused.status, 3, 'no earlier step can make it possible: refused before anything changes');
  t.match(refused.stderr, /rb\.yaml:4: step 2 \(fstab disable \/no\/such\/mount\): .*no entry mounts \/no\/such\/mount; nothing was changed/);
  t.same(readFileSync(join(r.mnt, 'etc/shadow')), before);
  writeFileSync(rb, 'version: 1\nsteps:\n  - passwd: { user: alice, hash: "$6$abc$def" }\n  - unlock: { user: alice }\n');
  t.match(rdrescue(['plan', rb, '--root', r.mnt]).stdout, /note: planned against the target as it is now; step 1 changes \/etc\/shadow first/);
});

t.test('run --sandbox: a password change shows only redacted fields, and notes speak runbook', async (t) => {
  const r = lockedOutRoot(t);
  const rb = join(r.dir, 'rb.yaml');
  // bob's yescrypt hash replaced by a $6$ one of the same length is still a change to report
  writeFileSync(rb, 'version: 1\nsteps:\n  - passwd: { user: bob, password_env: BOBPW }\n');
  const res = rdrescue(['run', rb, '--root', r.mnt, '--sandbox'], { env: { ...process.env, BOBPW: 'new-bob' } });
  t.equal(res.status, 0, res.stderr);
  t.match(res.stdout, /^modified \/etc\/shadow/m);
  t.match(res.stdout, /1 of 1 steps changed the view, 0 were already done\n/);
  t.match(res.stdout, /added \/var\/lib\/rdrescue\/undo\/…: 1 copy of replaced files/);
  t.match(res.stdout, /it still cannot log in: add clear_expiry: true to the step/);
  t.match(res.stdout, /^added \/\.autorelabel: mode 0644, owner 0:0$/m);
  t.notMatch(res.stdout, /\$6\$[./0-9A-Za-z]{4}|\$y\$[./0-9A-Za-z]/, 'no hash');
});

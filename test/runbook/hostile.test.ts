// Hostile runbooks are refused before anything changes: the target stays
// read-only and byte-identical (sha256 of the image), the error names the
// file, line and field, and nothing is written outside the target.
import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rdrescue } from '../helpers/cli.js';
import { isReadOnly } from '../rescue/helpers.js';
import { loadRunbook, parseRunbook, planRunbook, runRunbook } from '../../src/index.js';
import { RUNBOOKS, RUNBOOK_KEY, lockedOutRoot } from './helpers.js';

const HOSTILE = join(RUNBOOKS, 'hostile');
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

/** Runs the hostile runbook both through the library and the CLI; both must refuse with nothing changed. */
async function refused(t: Test, file: string, pattern: RegExp, prepare?: (s: string) => void, code = 3) {
  const r = lockedOutRoot(t, { prepare });
  const before = sha(r.image);
  const res = rdrescue(['run', file, '--root', r.mnt, '--yes']);
  t.equal(res.status, code, `exit ${code}: ${res.stderr}`);
  t.match(res.stderr, pattern);
  t.equal(res.stderr.trim().split('\n').length, 1, 'one line');
  t.equal(res.stdout, '', 'no report: nothing was run');
  let err: Error | undefined;
  try {
    await runRunbook(loadRunbook(file), { root: r.mnt });
  } catch (e) {
    err = e as Error;
  }
  t.match(err?.message, pattern, 'the library refuses too');
  t.ok(isReadOnly(r.mnt), 'not even remounted');
  t.notOk(existsSync(join(r.mnt, 'var/log/rdrescue.log')), 'nothing journaled');
  r.unmount();
  t.equal(sha(r.image), before, 'the target image is byte-identical');
}

t.test('unknown step: "format" is refused, naming file:line and the known steps', (t) => refused(t, join(HOSTILE, 'unknown-step.yaml'), /unknown-step\.yaml:4: steps\[1\]\.format: unknown "format"; expected one of: remount, passwd, unlock, fstab, chroot, relabel, write, ssh-key/));

t.test('bad types: a list where a user name goes is refused', (t) => refused(t, join(HOSTILE, 'bad-type.yaml'), /bad-type\.yaml:3: steps\[0\]\.unlock\.user: must be a string, not array/));

t.test('plain password in a runbook is refused with a hint to run rdrescue hash', async (t) => {
  await refused(t, join(HOSTILE, 'plain-password.yaml'), /plain-password\.yaml:6: steps\[1\]\.passwd\.password: a plain password in a runbook is refused: .*rdrescue hash/);
  await refused(t, join(HOSTILE, 'plain-password.json'), /plain-password\.json:1: steps\[0\]\.passwd\.password: a plain password .*rdrescue hash/);
});

t.test('path traversal: ../ in a runbook write path is refused', async (t) => {
  rmSync('/tmp/rdrescue-owned', { force: true });
  await refused(t, join(HOSTILE, 'write-dotdot.yaml'), /write-dotdot\.yaml:3: step 1 \(write .*\): .*contains "\.\."/, undefined, 4);
  t.notOk(existsSync('/tmp/rdrescue-owned'), 'nothing written on the host');
});

t.test('symlink escape: a link inside the target climbing out of it is refused for write', async (t) => {
  rmSync('/tmp/rdrescue-owned', { force: true });
  await refused(
    t,
    join(HOSTILE, 'write-symlink-out.yaml'),
    /write-symlink-out\.yaml:4: step 1 \(write \/var\/www\/escape\/rdrescue-owned\): .*the link \/var\/www\/escape -> \.\.\/\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/tmp leads out of the target root/,
    (s) => {
      mkdirSync(join(s, 'var/www'), { recursive: true });
      symlinkSync('../../../../../../tmp', join(s, 'var/www/escape'));
    },
    4,
  );
  t.notOk(existsSync('/tmp/rdrescue-owned'), 'nothing written on the host');
});

t.test('ssh-key for an unknown user is refused before the write step before it runs', (t) => refused(t, join(HOSTILE, 'ssh-key-unknown-user.yaml'), /ssh-key-unknown-user\.yaml:4: step 2 \(ssh-key mallory\): unknown user "mallory"/));

t.test('authorized_keys injection: a key with a newline smuggling a second (command=) line is refused', (t) => refused(t, join(HOSTILE, 'ssh-key-two-lines.yaml'), /step 1 \(ssh-key alice\): ssh-key: the key must be one line/, undefined, 4));

t.test('two steps in one list item, duplicate keys, an unquoted octal mode: refused as malformed', async (t) => {
  await refused(t, join(HOSTILE, 'two-steps-in-one.yaml'), /two-steps-in-one\.yaml:3: steps\[0\]: has 2 fields \(remount, relabel\); only 1 allowed/);
  await refused(t, join(HOSTILE, 'duplicate-key.yaml'), /duplicate-key\.yaml:3: not a valid runbook \(YAML\/JSON\): Map keys must be unique/);
  await refused(t, join(HOSTILE, 'mode-unquoted.yaml'), /mode-unquoted\.yaml:3: steps\[0\]\.write\.mode: must be a string, not integer 644/);
});

t.test('symlink attack: ~/.ssh/authorized_keys planted as a link to /etc/shadow is not followed', async (t) => {
  const r = lockedOutRoot(t, {
    prepare: (s) => {
      mkdirSync(join(s, 'home/alice/.ssh'));
      symlinkSync('/etc/shadow', join(s, 'home/alice/.ssh/authorized_keys'));
    },
  });
  const shadow = readFileSync(join(r.mnt, 'etc/shadow'));
  const book = parseRunbook(`version: 1\nsteps:\n  - remount: rw\n  - ssh-key: { user: alice, key: "${RUNBOOK_KEY}" }\n`, 'evil.yaml');
  t.throws(() => planRunbook(book, { root: r.mnt }), /evil\.yaml:4: step 2 \(ssh-key alice\): .*authorized_keys is a symbolic link; refusing to write through a link/, 'even plan refuses it');
  await t.rejects(runRunbook(book, { root: r.mnt }), /evil\.yaml:4: step 2 \(ssh-key alice\): .*symbolic link.*nothing was changed/);
  t.ok(isReadOnly(r.mnt), 'the remount step before it did not run either');
  t.same(readFileSync(join(r.mnt, 'etc/shadow')), shadow);
});

t.test('symlink attack: ~/.ssh itself a link to /root/.ssh is not followed', async (t) => {
  const r = lockedOutRoot(t, {
    prepare: (s) => {
      mkdirSync(join(s, 'root/.ssh'), { recursive: true });
      symlinkSync('/root/.ssh', join(s, 'home/alice/.ssh'));
    },
  });
  const book = parseRunbook(`version: 1\nsteps:\n  - ssh-key: { user: alice, key: "${RUNBOOK_KEY}" }\n`, 'evil.yaml');
  await t.rejects(runRunbook(book, { root: r.mnt }), /\/home\/alice\/\.ssh is a symbolic link/);
  t.notOk(existsSync(join(r.mnt, 'root/.ssh/authorized_keys')));
});

t.test('secrets: a missing password_env or unreadable password_file is refused at load, naming the line', async (t) => {
  t.throws(() => parseRunbook('version: 1\nsteps:\n  - passwd: { user: root, password_env: NOPE_NOT_SET }\n', 'x.yaml', { env: {} }), /x\.yaml:3: steps\[0\]\.passwd\.password_env: the environment has no NOPE_NOT_SET/);
  const dir = join('/tmp', `rb-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'rb.yaml'), 'version: 1\nsteps:\n  - unlock: { user: root }\n  - passwd: { user: root, password_file: missing.pw }\n');
  t.throws(() => loadRunbook(join(dir, 'rb.yaml')), /rb\.yaml:4: steps\[1\]\.passwd\.password_file: cannot read .*missing\.pw \(ENOENT\)/);
  t.throws(() => parseRunbook('version: 1\nsteps:\n  - passwd: { user: root, hash: "$6$x$y", password_env: A }\n', 'x.yaml', { env: { A: 'a' } }), /steps\[0\]\.passwd: needs exactly one of: hash, password_file, password_env/);
});

t.test('prototype keys: toString, constructor or __proto__ inside a step are unknown fields, not inherited schema', async (t) => {
  for (const key of ['toString', 'constructor', '__proto__']) {
    t.throws(() => parseRunbook(`{"version": 1, "steps": [{"unlock": {"user": "root", "${key}": {"x": 1}}}]}`, 'proto.json'), new RegExp(`proto\\.json:1: steps\\[0\\]\\.unlock\\.${key.replace(/_/g, '_')}: unknown field`), key);
  }
});

t.test('YAML tricks: an unknown tag or an alias bomb is refused as malformed', async (t) => {
  t.throws(() => parseRunbook('version: 1\nsteps:\n  - write: { path: /etc/x, content: !!js/function "return 1" }\n', 'tag.yaml'), /tag\.yaml:3: not a valid runbook/);
  const bomb = ['version: 1', 'a: &a ["x","x","x","x","x","x","x","x","x"]', 'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]', 'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]', 'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]', 'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]', 'steps: [*e]', ''].join('\n');
  t.throws(() => parseRunbook(bomb, 'bomb.yaml'), /bomb\.yaml: not a valid runbook \(YAML\/JSON\): Excessive alias count/);
});

t.test("host remount: remount ro of a target that is only a directory (not a mount point) is refused, the host's filesystem untouched", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rb-tree-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  cpSync('fixtures/rescue/debian', dir, { recursive: true });
  const book = parseRunbook('version: 1\nsteps:\n  - write: { path: /etc/motd, content: "x" }\n  - remount: ro\n', 'tree.yaml');
  const plan = planRunbook(book, { root: dir });
  t.equal(plan.steps[1].status, 'error');
  t.match(plan.steps[1].error, /is not a mount point: remounting ro would remount \S+ .* as a whole/);
  await t.rejects(runRunbook(book, { root: dir }), /tree\.yaml:4: step 2 \(remount ro\): .*not a mount point.*nothing was changed/);
  t.notOk(existsSync(join(dir, 'etc/motd')), 'the write before it did not run');
});

t.test('a standalone runbook (inject --runbook) may only carry hash:, not a file or variable that will not exist at boot', async (t) => {
  t.throws(() => parseRunbook('version: 1\nsteps:\n  - passwd: { user: root, password_env: PW }\n', 'baked.yaml', { env: { PW: 'x' }, standalone: true }), /baked\.yaml:3: steps\[0\]\.passwd\.password_env: a runbook baked into an image travels alone.*use hash:/);
  t.throws(() => loadRunbook(join(RUNBOOKS, 'password-file.yaml'), { standalone: true }), /password-file\.yaml:3: steps\[0\]\.passwd\.password_file: a runbook baked into an image travels alone/);
  t.doesNotThrow(() => loadRunbook(join(RUNBOOKS, 'rescue.yaml'), { standalone: true }));
});

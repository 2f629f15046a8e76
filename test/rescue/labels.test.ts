// Labels and ACLs on real servers' roots: a labelled, ACL'd /etc/shadow on
// ext4, XFS and btrfs (loop devices, mounted read-only as rd.break leaves
// them). getfattr and getfacl, the attr and acl packages' own tools, are the
// oracles: after passwd and after status --undo they print what they printed
// before.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rdrescue } from '../helpers/cli.js';
import { makeLoopRoot, type LoopFs } from '../helpers/loop-root.js';
import { parseRunbook, planRunbook, runRunbook } from '../../src/runbook/index.js';
import { RUNBOOK_KEY } from '../runbook/helpers.js';
import { FIXTURES, debianRoot, rhelRoot, isReadOnly } from './helpers.js';

const LABEL = 'system_u:object_r:shadow_t:s0';

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Every attribute as getfattr dumps it, and the ACL as getfacl prints it. */
function metadata(path: string): { xattrs: string; acl: string; mode: number; uid: number; gid: number } {
  const st = statSync(path);
  return { xattrs: sh('getfattr', ['--absolute-names', '-d', '-m', '-', '-e', 'hex', path]), acl: sh('getfacl', ['--absolute-names', '-n', path]), mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
}

function labelShadow(mnt: string): void {
  const shadow = join(mnt, 'etc/shadow');
  sh('chmod', ['0000', shadow]);
  sh('setfattr', ['-n', 'security.selinux', '-v', LABEL, shadow]);
  sh('setfattr', ['-n', 'trusted.rdrescue-test', '-v', '0x00ff01', shadow]);
  sh('setfattr', ['-n', 'user.origin', '-v', 'kickstart', shadow]);
  // daemon may read it through the ACL; the group entry allows nothing, the mask r--
  sh('setfacl', ['-m', 'u:daemon:r,g::-', shadow]);
}

for (const fs of ['ext4', 'xfs', 'btrfs'] as LoopFs[]) {
  t.test(`${fs}: passwd keeps the label, trusted.*, user.* and the ACL with its mask; undo brings back content and metadata`, async (t) => {
    const r = makeLoopRoot(fs, join(FIXTURES, 'rhel'), labelShadow);
    t.teardown(() => r.cleanup());
    const shadow = join(r.mnt, 'etc/shadow');
    t.ok(isReadOnly(r.mnt), 'read-only, as at rd.break');
    const before = metadata(shadow);
    const content = readFileSync(shadow);
    t.match(before.xattrs, /security\.selinux=0x/);
    t.match(before.acl, /user:1:r--\ngroup::---\nmask::r--/, 'the ACL as set');
    t.equal(before.mode, 0o040, 'mode shows the mask as group bits');
    const res = rdrescue(['passwd', 'root', '--root', r.mnt, '--password-stdin'], { input: 'new-pass-1\n' });
    t.equal(res.status, 0, res.stderr);
    t.not(readFileSync(shadow).toString(), content.toString(), 'the password changed');
    t.same(metadata(shadow), before, 'getfattr -d -m - and getfacl print the same, same mode and owner');
    t.notOk(existsSync(join(r.mnt, '.autorelabel')), 'no /.autorelabel: the label was kept');
    t.match(res.stdout, new RegExp(`/etc/shadow keeps ${LABEL}`));
    t.same(metadata(join(r.mnt, 'etc/shadow-')), { ...before, xattrs: before.xattrs.replace(shadow, `${shadow}-`), acl: before.acl.replace(shadow, `${shadow}-`) }, 'shadow- (the backup) carries the same metadata');
    const undo = rdrescue(['status', '--root', r.mnt, '--undo', 'LAST']);
    t.equal(undo.status, 0, undo.stderr);
    t.same(readFileSync(shadow), content, 'status --undo: the old content');
    t.same(metadata(shadow), before, 'with the same metadata');
    t.match(undo.stdout, /restored as it was before entry 1 \(passwd\), mode 0040, owner 0:0, /);
    t.match(undo.stdout, new RegExp(`owner 0:0, .*label ${LABEL}`));
    t.match(undo.stdout, /owner 0:0, .*ACL/);
  });
}

t.test('the daemon the ACL lets in still reads shadow, and group root still does not (the mask is not copied as group bits)', async (t) => {
  const r = makeLoopRoot('ext4', join(FIXTURES, 'rhel'), labelShadow);
  t.teardown(() => r.cleanup());
  t.equal(rdrescue(['passwd', 'root', '--root', r.mnt, '--password-stdin'], { input: 'new-pass-2\n' }).status, 0);
  chmodSync(r.dir, 0o755); // the scratch directory is private; the users below must reach the file
  const asDaemon = spawnSync('setpriv', ['--reuid=1', '--regid=1', '--clear-groups', 'cat', join(r.mnt, 'etc/shadow')]);
  t.equal(asDaemon.status, 0, `daemon reads it: ${asDaemon.stderr}`);
  const asGroupRoot = spawnSync('setpriv', ['--reuid=65534', '--regid=0', '--clear-groups', 'cat', join(r.mnt, 'etc/shadow')]);
  t.not(asGroupRoot.status, 0, 'a member of group root does not');
});

t.test('a file without a label on an SELinux target: /.autorelabel is asked for, naming it; none without SELinux', async (t) => {
  const r = rhelRoot(t);
  const res = rdrescue(['passwd', 'root', '--root', r.mnt, '--password-stdin', '--dry-run'], { input: 'x-pass\n' });
  t.match(res.stdout, /would: \/\.autorelabel: created: .* because \/etc\/shadow has no label to keep and the policy gives none here/);
  const d = debianRoot(t);
  const res2 = rdrescue(['passwd', 'root', '--root', d.mnt, '--password-stdin', '--dry-run'], { input: 'x-pass\n' });
  t.notMatch(res2.stdout, /autorelabel/);
});

t.test('a new file gets the label the target policy file_contexts gives it (ssh-key on an SELinux root)', async (t) => {
  const contexts = [
    '/home/[^/]+/\\.ssh(/.*)?\tsystem_u:object_r:ssh_home_t:s0',
    '/home/[^/]+\tsystem_u:object_r:user_home_dir_t:s0',
    '/etc/shadow.*\t--\tsystem_u:object_r:shadow_t:s0',
    '',
  ].join('\n');
  const r = makeLoopRoot('ext4', join(FIXTURES, 'rhel'), (mnt) => {
    labelShadow(mnt);
    mkdirSync(join(mnt, 'etc/selinux/targeted/contexts/files'), { recursive: true });
    writeFileSync(join(mnt, 'etc/selinux/targeted/contexts/files/file_contexts'), contexts);
    mkdirSync(join(mnt, 'home/alice'), { recursive: true });
    sh('chown', ['1000:1000', join(mnt, 'home/alice')]);
  });
  t.teardown(() => r.cleanup());
  const book = parseRunbook(`version: 1\nsteps:\n  - remount: rw\n  - ssh-key: { user: alice, key: "${RUNBOOK_KEY}" }\n`, 'labels.yaml');
  const plan = planRunbook(book, { root: r.mnt });
  t.match(plan.steps[1].lines.join('\n'), /home\/alice\/\.ssh\/authorized_keys gets system_u:object_r:ssh_home_t:s0/);
  const run = await runRunbook(book, { root: r.mnt });
  t.ok(run.ok, JSON.stringify(run.steps));
  t.match(sh('getfattr', ['--absolute-names', '-n', 'security.selinux', join(r.mnt, 'home/alice/.ssh/authorized_keys')]), /ssh_home_t/);
  t.match(sh('getfattr', ['--absolute-names', '-n', 'security.selinux', join(r.mnt, 'home/alice/.ssh')]), /ssh_home_t/);
  t.notOk(existsSync(join(r.mnt, '.autorelabel')), 'every file labelled: no relabel');
});

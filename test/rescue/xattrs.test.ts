// rdxattr and the pieces around it, without a loop device: the helper's
// errors reach the user with its own first line, a replacement that cannot
// keep an attribute changes nothing, and the policy's file_contexts are
// matched the way libselinux matches them.
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { atomicReplace, policyLabel, readXattrs, writeXattrs } from '../../src/index.js';

const dir = mkdtempSync(join('/dev/shm', 'rdrescue-xattr-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('readXattrs agrees with getfattr, and the helper runs from a private directory', async (t) => {
  const f = join(dir, 'acl');
  writeFileSync(f, 'x');
  spawnSync('setfacl', ['-m', 'u:daemon:r', f]);
  const x = readXattrs(f)!;
  const oracle = spawnSync('getfattr', ['--absolute-names', '-n', 'system.posix_acl_access', '-e', 'hex', f], { encoding: 'utf8' }).stdout;
  t.match(oracle, `system.posix_acl_access=0x${x['system.posix_acl_access']}`);
  const priv = readdirSync('/run').filter((n) => n.startsWith('rdrescue-') && existsSync(join('/run', n, 'rdxattr')));
  t.ok(priv.length >= 1, 'written under /run');
  for (const n of priv) t.equal(statSync(join('/run', n)).mode & 0o777, 0o700, `/run/${n} is 0700`);
});

t.test("an attribute the kernel refuses: the helper's line is kept, and the replacement changes nothing", async (t) => {
  // an ACL the kernel cannot parse (a truncated journal entry would give one): EINVAL
  const bad = { 'user.origin': '6b69636b', 'system.posix_acl_access': '0200' };
  const f = join(dir, 'target');
  writeFileSync(f, 'old\n');
  const failed = writeXattrs(f, bad);
  t.same(failed.map((x) => x.name), ['system.posix_acl_access'], 'the other attribute is set, the bad one named');
  t.match(failed[0].error, `rdxattr: set ${f}: system.posix_acl_access: Invalid argument (errno 22)`);
  t.throws(() => atomicReplace(f, Buffer.from('new\n'), Buffer.from('old\n'), { meta: { mode: 0o600, uid: 0, gid: 0, xattrs: bad } }), /target: cannot give the new content the old file's system\.posix_acl_access \(rdxattr: set .*: system\.posix_acl_access: Invalid argument \(errno 22\)\); nothing was changed/);
  t.equal(readFileSync(f, 'utf8'), 'old\n', 'the old content stays');
  t.notOk(existsSync(`${f}+`), 'no temporary file is left');
});

t.test('file_contexts: exact paths win over regular expressions, then the last match; .local and .subs apply; <<none>> gives none', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'rdrescue-fc-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const files = join(root, 'etc/selinux/targeted/contexts/files/file_contexts');
  mkdirSync(dirname(files), { recursive: true });
  writeFileSync(
    files,
    [
      '/etc/shadow\t--\tsystem_u:object_r:shadow_t:s0',
      '/etc(/.*)?\tsystem_u:object_r:etc_t:s0',
      '/etc/.*\t--\tsystem_u:object_r:later_t:s0',
      '/home/[^/]+/\\.ssh(/.*)?\tsystem_u:object_r:ssh_home_t:s0',
      '/tmp/.*\t<<none>>',
      '',
    ].join('\n'),
  );
  writeFileSync(`${files}.local`, '/etc/motd\t--\tsystem_u:object_r:local_t:s0\n');
  writeFileSync(`${files}.subs`, '/export/home /home\n');
  const se = { mode: 'enforcing' as const, type: 'targeted', relabelNeeded: true };
  t.equal(policyLabel(root, se, '/etc/shadow', 'file'), 'system_u:object_r:shadow_t:s0', 'an exact path beats every regular expression, even later ones');
  t.equal(policyLabel(root, se, '/etc/hosts', 'file'), 'system_u:object_r:later_t:s0', 'the last matching line wins');
  t.equal(policyLabel(root, se, '/etc/hosts.d', 'dir'), 'system_u:object_r:etc_t:s0', 'a -- line does not label a directory');
  t.equal(policyLabel(root, se, '/etc/motd', 'file'), 'system_u:object_r:local_t:s0', 'file_contexts.local');
  t.equal(policyLabel(root, se, '/export/home/alice/.ssh/authorized_keys', 'file'), 'system_u:object_r:ssh_home_t:s0', 'file_contexts.subs');
  t.equal(policyLabel(root, se, '/tmp/x', 'file'), undefined, '<<none>>');
  t.equal(policyLabel(root, { ...se, type: 'mls' }, '/etc/shadow', 'file'), undefined, 'another policy type: its files are not there');
});

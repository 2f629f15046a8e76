import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync, copyFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { mkroot } from '../../src/elf/mkroot.js';
import { resolveClosure } from '../../src/elf/closure.js';
import { closureTree, checkDest, usrMergeLinks } from '../../src/elf/tree.js';
import { RdError, EXIT } from '../../src/errors.js';
import { rdrescue } from '../helpers/cli.js';
import { cc, scratch } from './build.js';

function chroot(dir: string, ...cmd: string[]) {
  return spawnSync('chroot', [dir, ...cmd], { encoding: 'utf8', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' } });
}

t.test('mkroot bash ls, then chroot DIR /bin/bash -c "ls /" works (the seed notes exercise)', async (t) => {
  const d = scratch(t);
  const dir = join(d, 'newroot');
  const r = rdrescue(['mkroot', dir, 'bash', 'ls']);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /files, \d+ symlinks for \/usr\/bin\/bash \/usr\/bin\/ls/);
  const run = chroot(dir, '/bin/bash', '-c', 'ls /');
  t.equal(run.status, 0, run.stderr);
  const expected = ['usr', ...usrMergeLinks('/').map((l) => l.path.slice(1))].sort();
  t.same(run.stdout.split('\n').filter(Boolean).sort(), expected);
  // The usr-merge links are the host's, as symlinks; versioned sonames stay symlinks.
  for (const l of usrMergeLinks('/')) t.equal(readlinkSync(join(dir, l.path)), l.target);
  t.equal(readlinkSync(join(dir, 'usr/lib/x86_64-linux-gnu/libtinfo.so.6')), readlinkSync('/usr/lib/x86_64-linux-gnu/libtinfo.so.6'));
  t.equal(statSync(join(dir, 'usr/bin/bash')).mode & 0o7777, statSync('/usr/bin/bash').mode & 0o7777, 'mode kept');
  // Re-running over the same directory is fine (files replaced, identical links accepted).
  t.equal(rdrescue(['mkroot', dir, 'bash', 'ls']).status, 0);
});

t.test('mkroot a C program with a private $ORIGIN library, and PROGRAM:DEST', async (t) => {
  const d = scratch(t);
  mkdirSync(join(d, 'opt/app/lib'), { recursive: true });
  cc(join(d, 'opt/app/lib/libbar.so'), ['bar.c'], ['-shared', '-fPIC']);
  cc(join(d, 'opt/app/lib/libfoo.so'), ['foo.c'], ['-shared', '-fPIC', `-L${d}/opt/app/lib`, '-lbar', '-Wl,-rpath,$ORIGIN']);
  const app = cc(join(d, 'opt/app/bin/app'), ['app.c'], [`-L${d}/opt/app/lib`, '-lfoo', '-Wl,-rpath,$ORIGIN/../lib', `-Wl,-rpath-link,${d}/opt/app/lib`]);
  const hello = cc(join(d, 'hello'), ['hello.c']);
  const dir = join(d, 'root');
  const res = mkroot(dir, [app, `${hello}:/usr/local/bin/hello`]);
  t.ok(res.entries.some((e) => e.dest === '/usr/local/bin/hello' && e.type === 'file'));
  // ld.so learns the main program's $ORIGIN from /proc/self/exe, so inside the chroot it needs /proc.
  t.match(chroot(dir, app).stderr, /libfoo\.so: cannot open shared object file/, 'without /proc, $ORIGIN of the program is unknown');
  mkdirSync(join(dir, 'proc'));
  const a = spawnSync('unshare', ['--mount', '--fork', 'sh', '-c', `mount -t proc proc "${dir}/proc" && exec chroot "${dir}" "${app}"`], { encoding: 'utf8' });
  t.equal(a.stdout, 'foo=42\n', a.stderr);
  const h = chroot(dir, '/usr/local/bin/hello');
  t.equal(h.stdout, 'hello from rdrescue\n', h.stderr);
});

t.test('symlink attack: a pre-planted DIR/usr -> outside directory is not followed', async (t) => {
  const d = scratch(t);
  const outside = join(d, 'outside');
  mkdirSync(outside);
  const dir = join(d, 'root');
  mkdirSync(dir);
  symlinkSync(outside, join(dir, 'usr'));
  const r = rdrescue(['mkroot', dir, 'bash']);
  t.equal(r.status, EXIT.refused);
  t.match(r.stderr, /^rdrescue: .*\/root\/usr: \/usr is a symlink \(to .*\/outside\) that was already there; refusing to write/);
  t.same(readdirSync(outside), [], 'nothing written through the link');
});

t.test('symlink attack: a planted link at a file destination is replaced, its target untouched', async (t) => {
  const d = scratch(t);
  const victim = join(d, 'victim');
  writeFileSync(victim, 'precious\n');
  const dir = join(d, 'root');
  mkdirSync(join(dir, 'usr/bin'), { recursive: true });
  symlinkSync(victim, join(dir, 'usr/bin/bash'));
  t.equal(rdrescue(['mkroot', dir, '/usr/bin/bash']).status, 0);
  t.equal(readFileSync(victim, 'utf8'), 'precious\n');
  t.ok(lstatSync(join(dir, 'usr/bin/bash')).isFile());
});

t.test('path traversal: a DEST climbing out of DIR with .. is refused', async (t) => {
  const d = scratch(t);
  const dir = join(d, 'root');
  const r = rdrescue(['mkroot', dir, 'bash:../../escaped-bash']);
  t.equal(r.status, EXIT.refused);
  t.match(r.stderr, /^rdrescue: DEST "\.\.\/\.\.\/escaped-bash" leaves the destination root/);
  t.notOk(existsSync(join(d, 'escaped-bash')));
  t.notOk(existsSync(dir), 'nothing created');
  t.throws(() => checkDest('/usr/../../etc/x'), RdError);
  t.equal(checkDest('usr/./bin/../sbin/x'), '/usr/sbin/x');
});

t.test('bad input: a non-ELF program or a missing library creates nothing', async (t) => {
  const d = scratch(t);
  writeFileSync(join(d, 'notes'), 'text\n', { mode: 0o755 });
  const a = rdrescue(['mkroot', join(d, 'r1'), join(d, 'notes')]);
  t.equal(a.status, 3);
  t.equal(a.stderr, `rdrescue: ${d}/notes: not an ELF program or #! script\n`);
  t.notOk(existsSync(join(d, 'r1')));
  mkdirSync(join(d, 'lib'));
  cc(join(d, 'lib/libbar.so'), ['bar.c'], ['-shared', '-fPIC']);
  cc(join(d, 'lib/libfoo.so'), ['foo.c'], ['-shared', '-fPIC', `-L${d}/lib`, '-lbar']);
  const app = cc(join(d, 'app'), ['app.c'], [`-L${d}/lib`, '-lfoo', `-Wl,-rpath-link,${d}/lib`]);
  const b = rdrescue(['mkroot', join(d, 'r2'), app]);
  t.equal(b.status, 1);
  t.match(b.stderr, /^rdrescue: library libfoo\.so needed by .*\/app not found; searched \/etc\/ld\.so\.cache, /);
  t.notOk(existsSync(join(d, 'r2')));
});

t.test('--root: resolve inside another root, by ld.so.conf when it has no cache, then by the cache ldconfig writes', async (t) => {
  const d = scratch(t);
  const src = join(d, 'src');
  mkroot(src, ['bash']);
  // A private library directory only the root's ld.so.conf(.d) knows about.
  mkdirSync(join(src, 'opt/priv'), { recursive: true });
  cc(join(src, 'opt/priv/libbar.so'), ['bar.c'], ['-shared', '-fPIC', '-Wl,-soname,libbar.so']);
  cc(join(src, 'opt/priv/libfoo.so'), ['foo.c'], ['-shared', '-fPIC', '-Wl,-soname,libfoo.so', `-L${src}/opt/priv`, '-lbar']);
  cc(join(src, 'usr/bin/app'), ['app.c'], [`-L${src}/opt/priv`, '-lfoo', `-Wl,-rpath-link,${src}/opt/priv`]);
  mkdirSync(join(src, 'etc/ld.so.conf.d'), { recursive: true });
  writeFileSync(join(src, 'etc/ld.so.conf'), '# test root\ninclude /etc/ld.so.conf.d/*.conf\n');
  writeFileSync(join(src, 'etc/ld.so.conf.d/priv.conf'), '/opt/priv\n');

  const byConf = resolveClosure(['app'], { root: src });
  t.equal(byConf.librarySource, 'ld.so.conf');
  t.same(byConf.programs[0].libraries.map((l) => l.path), ['/opt/priv/libfoo.so', '/lib/x86_64-linux-gnu/libc.so.6', '/opt/priv/libbar.so']);
  t.ok(byConf.files.every((f) => f.hostPath.startsWith(src + '/')), 'every file comes from inside the root');

  // The oracle: ldconfig builds that root's cache, and the program runs in it.
  t.equal(spawnSync('ldconfig', ['-r', src]).status, 0);
  const byCache = resolveClosure(['app'], { root: src });
  t.equal(byCache.librarySource, 'cache');
  t.same(byCache.programs[0].libraries.map((l) => l.path), byConf.programs[0].libraries.map((l) => l.path));
  t.equal(chroot(src, '/usr/bin/app').stdout, 'foo=42\n');

  // The root's own loader in trace mode (it maps, never runs, the program) is the --root oracle.
  for (const f of ['/usr/bin/app', '/usr/bin/bash', '/opt/priv/libfoo.so', '/lib/x86_64-linux-gnu/libtinfo.so.6']) {
    const list = chroot(src, '/lib64/ld-linux-x86-64.so.2', '--list', f).stdout;
    const want = list.split('\n').filter((l) => l && !/linux-vdso/.test(l)).map((l) => l.trim().replace(/ \(0x[0-9a-f]+\)$/, '')).sort();
    const got = rdrescue(['deps', '--root', src, f]).stdout.split('\n').filter(Boolean).map((l) => l.trim()).sort();
    t.same(got, want, `deps --root ${f} equals the root's ld.so --list`);
  }

  const r = rdrescue(['deps', '--root', src, 'app']);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /libfoo\.so => \/opt\/priv\/libfoo\.so/);
  const dst = join(d, 'dst');
  t.equal(rdrescue(['mkroot', '--root', src, dst, 'app']).status, 0);
  t.equal(chroot(dst, '/usr/bin/app').stdout, 'foo=42\n', 'a root built from another root runs');
});

t.test('an absolute symlink in the root resolves inside it, never on the host', async (t) => {
  const d = scratch(t);
  const src = join(d, 'src');
  mkroot(src, ['/usr/bin/bash']);
  // A root whose /lib64 loader link is absolute must lead to the root's loader, not the host's.
  const hostLoaderDir = join(src, 'usr/lib64');
  t.ok(lstatSync(join(hostLoaderDir, 'ld-linux-x86-64.so.2')).isSymbolicLink());
  const c = resolveClosure(['/bin/bash'], { root: src });
  const interp = c.files.find((f) => f.kind === 'interpreter')!;
  t.equal(interp.hostPath, join(src, 'usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2'));
  t.ok(c.files.every((f) => f.hostPath.startsWith(src + '/')));
  // A link pointing far above the root stops at the root.
  symlinkSync('../../../../../../../../usr/bin/bash', join(src, 'usr/bin/up'));
  t.equal(resolveClosure(['/usr/bin/up'], { root: src }).files[0].hostPath, join(src, 'usr/bin/bash'));
});

t.test('closureTree: every file once, links and parents, prefix makes absolute targets relative', async (t) => {
  const c = resolveClosure(['bash', 'ls']);
  const plain = closureTree(c);
  const files = plain.filter((e) => e.type === 'file').map((e) => e.dest);
  t.equal(new Set(files).size, files.length);
  t.ok(plain.some((e) => e.dest === '/usr/lib64/ld-linux-x86-64.so.2' && e.type === 'symlink' && e.target === '/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2'));
  const seen = new Set<string>();
  for (const e of plain) {
    const parent = e.dest.slice(0, e.dest.lastIndexOf('/')) || '/';
    t.ok(parent === '/' || seen.has(parent), `${e.dest} comes after its parent`);
    seen.add(e.dest);
  }
  const pre = closureTree(c, { prefix: '/sysroot' });
  t.ok(pre.every((e) => e.dest.startsWith('/sysroot')));
  t.ok(pre.some((e) => e.dest === '/sysroot/usr/lib64/ld-linux-x86-64.so.2' && e.target === '../../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2'));
  t.ok(pre.every((e) => e.type !== 'symlink' || !e.target!.startsWith('/')));
  // And that tree really works as a root under the prefix.
  const d = scratch(t);
  const { writeClosureTree } = await import('../../src/elf/mkroot.js');
  writeClosureTree(d, closureTree(c, { prefix: '/sysroot', links: usrMergeLinks('/') }));
  copyFileSync('/usr/bin/bash', join(d, 'probe'));
  t.equal(chroot(join(d, 'sysroot'), '/bin/bash', '-c', 'ls /usr/bin').stdout, 'bash\nls\n');
  t.throws(() => closureTree(c, { prefix: '../x' }), new RdError('prefix "../x" leaves the destination root (too many ..)', {}, EXIT.refused));
});

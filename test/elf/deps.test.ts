import t, { type Test } from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, openSync, readSync, closeSync, readdirSync, readFileSync, realpathSync, mkdirSync, symlinkSync, writeFileSync, unlinkSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { resolveClosure, type Closure } from '../../src/elf/closure.js';
import { platformFor } from '../../src/elf/platform.js';
import { readElf } from '../../src/elf/elf.js';
import { RdError } from '../../src/errors.js';
import { rdrescue } from '../helpers/cli.js';
import { cc, gccCanM32, ldd, scratch, type LddResult } from './build.js';

/** Checks a program's closure against ldd: the same "name => path" strings and loader line, and the same set of real files loaded. */
function sameAsLdd(t: Test, file: string, c: Closure, oracle: LddResult): void {
  const p = c.programs[0];
  if (oracle.kind === 'not dynamic') {
    t.equal(p.linkage, 'static', `${file}: ldd says not dynamic`);
    return;
  }
  if (oracle.kind === 'static-pie' && oracle.libs.size === 0) {
    t.equal(p.libraries.length, 0, `${file}: ldd says statically linked`);
    return;
  }
  const ours = new Map(p.libraries.map((l) => [l.name, l.path]));
  const diffs: string[] = [];
  for (const [name, path] of oracle.libs) if (ours.get(name) !== path) diffs.push(`${name}: ldd ${path ?? 'not found'}, deps ${ours.get(name) ?? 'absent'}`);
  // ldd names the loader only when some object needs it by name; a program's PT_INTERP is needed regardless, so deps keeps it.
  if (c.files[0].elf?.interpreter) t.ok(oracle.bare.length === 0 || (oracle.bare.length === 1 && oracle.bare[0] === p.interpreter), `${file}: the same loader`);
  else t.same(oracle.bare, p.interpreter ? [p.interpreter] : [], `${file}: the same loader line`);
  const real = (p: string) => realpathSync(p);
  const lddSet = new Set([...[...oracle.libs.values()].filter((x): x is string => !!x), ...oracle.bare, ...(p.interpreter ? [p.interpreter] : [])].map(real));
  const ourSet = new Set([...p.libraries.map((l) => l.path).filter((x): x is string => !!x), ...(p.interpreter ? [p.interpreter] : [])].map(real));
  for (const x of lddSet) if (!ourSet.has(x)) diffs.push(`only ldd loads ${x}`);
  for (const x of ourSet) if (!lddSet.has(x)) diffs.push(`only deps loads ${x}`);
  t.same(diffs, [], `${file}: deps agrees with ldd (${lddSet.size} objects)`);
}

function isElfFile(p: string): boolean {
  const st = lstatSync(p, { throwIfNoEntry: false });
  if (!st?.isFile() || st.size < 64) return false;
  const fd = openSync(p, 'r');
  const b = Buffer.alloc(4);
  readSync(fd, b, 0, 4, 0);
  closeSync(fd);
  return b.toString('latin1') === '\x7fELF';
}

/** Evenly spread picks from a sorted directory listing, so the sample covers the whole alphabet and is the same every run. */
function spread(dir: string, n: number, filter: (name: string) => boolean): string[] {
  const all = readdirSync(dir).filter(filter).sort().map((f) => join(dir, f)).filter(isElfFile);
  const step = Math.max(1, Math.floor(all.length / n));
  return all.filter((_, i) => i % step === 0).slice(0, n);
}

t.test('deps equals ldd on the host programs and libraries', async (t) => {
  const files = [
    ...spread('/usr/bin', 30, () => true),
    ...spread('/usr/sbin', 10, () => true),
    ...spread('/usr/lib/x86_64-linux-gnu', 20, (f) => /\.so(\.|$)/.test(f)),
  ];
  t.ok(files.length >= 50, `${files.length} files sampled`);
  let dynamic = 0;
  for (const f of files) {
    const oracle = ldd(f);
    sameAsLdd(t, f, resolveClosure([f], { allowMissing: true }), oracle);
    if (oracle.kind === 'dynamic') dynamic++;
  }
  t.ok(dynamic >= 45, `${dynamic} of them dynamically linked`);
});

t.test('static programs: ldd says "not a dynamic executable", deps lists only the program', async (t) => {
  const d = scratch(t);
  const st = cc(join(d, 'static'), ['hello.c'], ['-static']);
  const pie = cc(join(d, 'static-pie'), ['hello.c'], ['-static-pie']);
  for (const f of [st, pie]) {
    const c = resolveClosure([f]);
    sameAsLdd(t, f, c, ldd(f));
    t.equal(c.files.length, 1);
  }
  t.equal(resolveClosure([st]).programs[0].linkage, 'static');
  t.equal(resolveClosure([pie]).programs[0].linkage, 'static-pie');
  const r = rdrescue(['deps', st]);
  t.equal(r.status, 0);
  t.match(r.stdout, /not a dynamic executable/);
});

/** libfoo.so.1.2.3 (soname libfoo.so.1) with the usual symlinks, needing libbar, all in `dir`. */
function buildLibs(dir: string, opts: { fooInBar?: boolean; m32?: boolean } = {}): void {
  mkdirSync(dir, { recursive: true });
  const m = opts.m32 ? ['-m32'] : [];
  cc(join(dir, 'libbar.so'), ['bar.c'], ['-shared', '-fPIC', ...m]);
  cc(join(dir, 'libfoo.so.1.2.3'), ['foo.c'], ['-shared', '-fPIC', '-Wl,-soname,libfoo.so.1', `-L${dir}`, '-lbar', ...m]);
  symlinkSync('libfoo.so.1.2.3', join(dir, 'libfoo.so.1'));
  symlinkSync('libfoo.so.1', join(dir, 'libfoo.so'));
}

t.test('DT_RUNPATH $ORIGIN/../lib with a private library behind a symlinked soname', async (t) => {
  const d = scratch(t);
  buildLibs(join(d, 'app/lib'));
  const app = cc(join(d, 'app/bin/app'), ['app.c'], [`-L${d}/app/lib`, '-Wl,--no-as-needed', '-lfoo', '-lbar', '-Wl,--enable-new-dtags,-rpath,$ORIGIN/../lib']);
  t.equal(readElf(app).runpath, '$ORIGIN/../lib');
  t.equal(readElf(app).rpath, undefined);
  const c = resolveClosure([app]);
  sameAsLdd(t, app, c, ldd(app));
  const foo = c.files.find((f) => f.path.endsWith('libfoo.so.1'))!;
  t.equal(foo.path, `${d}/app/bin/../lib/libfoo.so.1`);
  t.equal(foo.realPath, `${d}/app/lib/libfoo.so.1.2.3`);
  t.same(foo.symlinks.at(-1), { path: `${d}/app/lib/libfoo.so.1`, target: 'libfoo.so.1.2.3' });
  t.equal(spawnSync(app, { encoding: 'utf8' }).stdout, 'foo=42\n', 'the built program really runs with this layout');
});

t.test('DT_RPATH (--disable-new-dtags) is searched', async (t) => {
  const d = scratch(t);
  buildLibs(join(d, 'rlib'));
  const app = cc(join(d, 'app'), ['app.c'], [`-L${d}/rlib`, '-Wl,--no-as-needed', '-lfoo', '-lbar', `-Wl,--disable-new-dtags,-rpath,${d}/rlib`]);
  t.equal(readElf(app).rpath, `${d}/rlib`);
  t.equal(readElf(app).runpath, undefined);
  const c = resolveClosure([app]);
  sameAsLdd(t, app, c, ldd(app));
  t.ok(c.programs[0].libraries.some((l) => l.path === `${d}/rlib/libbar.so`));
});

t.test('RPATH is inherited down the loading chain, RUNPATH is not', async (t) => {
  const d = scratch(t);
  buildLibs(join(d, 'chain'));
  // The program needs only libfoo; libfoo (no paths of its own) needs libbar, found only through the program's RPATH.
  const inherit = cc(join(d, 'inherit'), ['app.c'], [`-L${d}/chain`, '-lfoo', `-Wl,-rpath-link,${d}/chain`, `-Wl,--disable-new-dtags,-rpath,${d}/chain`]);
  const c = resolveClosure([inherit]);
  sameAsLdd(t, inherit, c, ldd(inherit));
  const bar = c.programs[0].libraries.find((l) => l.name === 'libbar.so')!;
  t.equal(bar.path, `${d}/chain/libbar.so`);
  t.match(bar.neededBy, /libfoo\.so\.1$/, 'libbar is loaded on behalf of libfoo');

  const runpath = cc(join(d, 'runpath'), ['app.c'], [`-L${d}/chain`, '-lfoo', `-Wl,-rpath-link,${d}/chain`, `-Wl,--enable-new-dtags,-rpath,${d}/chain`]);
  const oracle = ldd(runpath);
  t.equal(oracle.libs.get('libbar.so'), undefined, 'ldd: libbar.so => not found');
  t.ok(oracle.libs.has('libbar.so'));
  sameAsLdd(t, runpath, resolveClosure([runpath], { allowMissing: true }), oracle);
  t.throws(() => resolveClosure([runpath]), RdError);
  try {
    resolveClosure([runpath]);
  } catch (e) {
    const m = (e as Error).message;
    t.match(m, /library libbar\.so needed by .*\/chain\/libfoo\.so\.1 not found/);
    t.match(m, /searched .*\/etc\/ld\.so\.cache, \/lib\/x86_64-linux-gnu, \/usr\/lib\/x86_64-linux-gnu, \/lib, \/usr\/lib$/);
    t.notMatch(m, new RegExp(`searched ${d}/chain`), 'the program RUNPATH is not used for libfoo');
  }
});

/** $PLATFORM as the host's ld.so itself reports it (glibc >= 2.33), the oracle for platformFor. */
function ldsoPlatform(): string {
  const out = execFileSync('/lib64/ld-linux-x86-64.so.2', ['--list-diagnostics'], { encoding: 'utf8' });
  const m = /^dl_platform="([^"]*)"$/m.exec(out);
  if (!m) throw new Error('ld.so --list-diagnostics printed no dl_platform');
  return m[1]!;
}

t.test('$LIB and $PLATFORM expand as the host ld.so expands them', async (t) => {
  // On an Intel CPU with AVX2 glibc's $PLATFORM is "haswell", not the kernel's AT_PLATFORM "x86_64".
  const platform = ldsoPlatform();
  t.equal(platformFor(62, 64), platform, `$PLATFORM is ld.so's dl_platform (${platform})`);
  const d = scratch(t);
  buildLibs(join(d, 'lib/x86_64-linux-gnu'));
  mkdirSync(join(d, platform));
  copyFileSync(join(d, 'lib/x86_64-linux-gnu/libbar.so'), join(d, platform, 'libbar.so'));
  unlinkSync(join(d, 'lib/x86_64-linux-gnu/libbar.so'));
  const app = cc(join(d, 'app'), ['app.c'], [`-L${d}/lib/x86_64-linux-gnu`, `-L${d}/${platform}`, '-Wl,--no-as-needed', '-lfoo', '-lbar', '-Wl,-rpath,${ORIGIN}/$LIB:$ORIGIN/$PLATFORM']);
  const c = resolveClosure([app]);
  sameAsLdd(t, app, c, ldd(app));
  t.ok(c.programs[0].libraries.some((l) => l.path === `${d}/${platform}/libbar.so`));
});

t.test('32-bit programs get 32-bit libraries', { skip: !gccCanM32() && 'gcc -m32 does not work here (install gcc-multilib)' }, async (t) => {
  const d = scratch(t);
  const h = cc(join(d, 'hello32'), ['hello.c'], ['-m32']);
  const c = resolveClosure([h]);
  sameAsLdd(t, h, c, ldd(h));
  t.equal(c.files[0].elf?.class, 32);
  for (const f of c.files) t.equal(f.elf?.class, 32, `${f.path} is 32-bit`);
  // A 64-bit libfoo earlier in the RPATH is skipped, as ld.so skips incompatible files.
  buildLibs(join(d, 'lib64'));
  buildLibs(join(d, 'lib32'), { m32: true });
  const app = cc(join(d, 'app32'), ['app.c'], ['-m32', `-L${d}/lib32`, '-Wl,--no-as-needed', '-lfoo', '-lbar', `-Wl,--disable-new-dtags,-rpath,${d}/lib64:${d}/lib32`]);
  const c2 = resolveClosure([app]);
  sameAsLdd(t, app, c2, ldd(app));
  t.equal(c2.programs[0].libraries.find((l) => l.name === 'libfoo.so.1')?.path, `${d}/lib32/libfoo.so.1`);
  // Only the 64-bit copy left: not found, and the error says which file was passed over and why.
  const only64 = cc(join(d, 'only64'), ['app.c'], ['-m32', `-L${d}/lib32`, '-Wl,--no-as-needed', '-lfoo', '-lbar', `-Wl,--disable-new-dtags,-rpath,${d}/lib64`]);
  t.equal(ldd(only64).libs.get('libfoo.so.1'), undefined, 'ldd: not found');
  t.throws(() => resolveClosure([only64]), new RegExp(`library libfoo\\.so\\.1 needed by ${only64} not found; searched ${d}/lib64, .*; skipped as incompatible: ${d}/lib64/libfoo\\.so\\.1 \\(ELF 64-bit x86-64\\)`));
});

t.test('it never executes what it inspects: a program whose PT_INTERP would leave a marker', async (t) => {
  const d = scratch(t);
  const marker = join(d, 'ran');
  const fake = cc(join(d, 'ld'), ['fake-ld.c'], ['-nostdlib', '-static', '-no-pie', '-fno-stack-protector', '-O2', `-DMARKER="${marker}"`]);
  const prog = cc(join(d, 'prog'), ['hello.c']);
  // Point PT_INTERP at the fake loader, in place (the new path is shorter than /lib64/ld-linux-x86-64.so.2).
  const bytes = readFileSync(prog);
  const old = Buffer.from('/lib64/ld-linux-x86-64.so.2\0');
  const at = bytes.indexOf(old);
  t.ok(at > 0 && fake.length < old.length, `interp string at ${at}, fake loader path ${fake.length} bytes`);
  bytes.fill(0, at, at + old.length);
  bytes.write(fake, at, 'latin1');
  const evil = join(d, 'evil');
  writeFileSync(evil, bytes);
  chmodSync(evil, 0o755);
  t.equal(readElf(evil).interpreter, fake);

  const c = resolveClosure([evil], { allowMissing: true });
  t.equal(c.programs[0].interpreter, fake, 'deps reports the hostile interpreter');
  const r = rdrescue(['deps', evil]);
  t.match(r.stdout, fake);
  rdrescue(['deps', '--json', evil]);
  rdrescue(['mkroot', join(d, 'root'), evil]);
  t.notOk(existsSync(marker), 'deps and mkroot never ran the interpreter');

  // The control: executing the program does run its PT_INTERP, so the marker check can fail.
  spawnSync(evil);
  t.ok(existsSync(marker), 'running the program runs the fake loader');
});

t.test('a missing library is named with who needs it and where it was searched', async (t) => {
  const d = scratch(t);
  buildLibs(join(d, 'lib'));
  const app = cc(join(d, 'app'), ['app.c'], [`-L${d}/lib`, '-lfoo', '-lbar', `-Wl,-rpath,${d}/lib`]);
  unlinkSync(join(d, 'lib/libfoo.so.1.2.3'));
  t.equal(ldd(app).libs.get('libfoo.so.1'), undefined, 'ldd agrees it is missing');
  const r = rdrescue(['deps', app]);
  t.equal(r.status, 1);
  t.match(r.stdout, /libfoo\.so\.1 => not found/);
  t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  t.match(r.stderr, new RegExp(`^rdrescue: library libfoo\\.so\\.1 needed by ${app} not found; searched ${d}/lib, /etc/ld\\.so\\.cache, /lib/x86_64-linux-gnu`));
});

t.test('bad input: a text file and a truncated ELF get one clear line', async (t) => {
  const d = scratch(t);
  writeFileSync(join(d, 'notes.txt'), 'just text\n');
  writeFileSync(join(d, 'trunc'), readFileSync('/usr/bin/bash').subarray(0, 200));
  chmodSync(join(d, 'trunc'), 0o755);
  const a = rdrescue(['deps', join(d, 'notes.txt')]);
  t.equal(a.status, 3);
  t.equal(a.stderr, `rdrescue: ${d}/notes.txt: not an ELF program or #! script\n`);
  const b = rdrescue(['deps', join(d, 'trunc')]);
  t.equal(b.status, 3);
  t.match(b.stderr, new RegExp(`^rdrescue: ${d}/trunc: truncated or corrupt ELF: program header table \\(13 entries\\) .* beyond the end of the file \\(200 bytes\\)\\n$`));
  const c = rdrescue(['deps', 'no-such-program-rdrescue']);
  t.equal(c.status, 1);
  t.match(c.stderr, /^rdrescue: program no-such-program-rdrescue not found in PATH/);
});

t.test('like ldd, every argument is handled: bad ones get one error line each, good ones are still listed', async (t) => {
  const d = scratch(t);
  buildLibs(join(d, 'lib'));
  const app = cc(join(d, 'app'), ['app.c'], [`-L${d}/lib`, '-lfoo', '-lbar', `-Wl,-rpath,${d}/lib`]);
  unlinkSync(join(d, 'lib/libbar.so'));
  writeFileSync(join(d, 'notes.txt'), 'just text\n');
  writeFileSync(join(d, 'orphan.sh'), '#!/no/such/interp\necho hi\n', { mode: 0o755 });
  const args = ['/bin/true', join(d, 'notes.txt'), join(d, 'gone'), join(d, 'orphan.sh'), '/bin/sh', app];

  // The oracle: ldd goes on past bad arguments, lists the later programs and fails at the end.
  const l = spawnSync('ldd', args, { encoding: 'utf8' });
  t.equal(l.status, 1, 'ldd exits 1');
  t.match(l.stdout, /^\/bin\/sh:\n\tlinux-vdso/m, 'ldd lists /bin/sh after the bad arguments');

  const r = rdrescue(['deps', ...args]);
  t.equal(r.status, 3, 'the exit status of the first bad argument (not ELF)');
  const errs = r.stderr.trimEnd().split('\n');
  t.same(errs, [
    `rdrescue: ${d}/notes.txt: not an ELF program or #! script`,
    `rdrescue: ${d}/gone: program not found`,
    `rdrescue: /no/such/interp (#! interpreter of ${d}/orphan.sh): program not found`,
    errs[3],
  ]);
  t.match(errs[3], new RegExp(`^rdrescue: library libbar\\.so needed by ${d}/lib/libfoo\\.so\\.1 not found; searched `));
  // Each good program is listed exactly as when it is given alone, under its header.
  for (const p of ['/bin/true', '/bin/sh', app]) {
    const alone = rdrescue(['deps', p]).stdout;
    t.ok(r.stdout.includes(`${p}:\n${alone}`), `${p} listed as alone`);
    const oracle = ldd(p);
    for (const [name, path] of oracle.libs) t.match(r.stdout, `\t${name} => ${path ?? 'not found'}\n`, `${p}: ${name} as ldd finds it`);
  }
  t.notMatch(r.stdout, /notes\.txt|gone|orphan/, 'nothing listed for the bad ones');

  const j = JSON.parse(rdrescue(['deps', '--json', ...args]).stdout);
  t.same(j.programs.map((p: { path: string }) => p.path), ['/bin/true', '/bin/sh', app]);
  t.same(j.errors.map((e: { request: string; exitCode: number }) => [e.request, e.exitCode]), [[args[1], 3], [args[2], 1], [args[3], 1]]);
  t.notOk(j.files.some((f: { path: string }) => f.path.endsWith('orphan.sh')), 'the script whose interpreter is missing leaves no partial closure');

  // Only good programs, one missing library: status 1; only good and complete: 0.
  t.equal(rdrescue(['deps', '/bin/true', app]).status, 1);
  t.equal(rdrescue(['deps', '/bin/true', '/bin/sh']).status, 0);
  t.equal(rdrescue(['deps', join(d, 'gone'), '/bin/true']).status, 1, 'a missing file alone gives 1');
  t.throws(() => resolveClosure(['/bin/true', join(d, 'gone')]), /program not found/, 'the library still throws without keepGoing');
});

t.test('a #! script brings its interpreter, and env NAME brings NAME', async (t) => {
  const d = scratch(t);
  writeFileSync(join(d, 's.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
  writeFileSync(join(d, 'e.sh'), '#!/usr/bin/env bash\necho hi\n', { mode: 0o755 });
  const c = resolveClosure([join(d, 's.sh'), join(d, 'e.sh')]);
  t.same(c.programs.map((p) => p.path), [join(d, 's.sh'), '/bin/sh', join(d, 'e.sh'), '/usr/bin/env', c.programs[4].path]);
  t.match(c.programs[4].path, /\/bash$/);
  t.ok(c.files.some((f) => f.path === '/lib64/ld-linux-x86-64.so.2'));
});

t.test('deps --json carries every field', async (t) => {
  const r = rdrescue(['deps', '--json', 'bash']);
  t.equal(r.status, 0);
  const j = JSON.parse(r.stdout);
  t.equal(j.librarySource, 'cache');
  const libc = j.files.find((f: { path: string }) => f.path === '/lib/x86_64-linux-gnu/libc.so.6');
  t.match(libc, { kind: 'library', realPath: '/usr/lib/x86_64-linux-gnu/libc.so.6', hostPath: '/usr/lib/x86_64-linux-gnu/libc.so.6', elf: { class: 64, machine: 62, soname: 'libc.so.6' } });
  t.same(libc.symlinks, [{ path: '/lib', target: 'usr/lib' }]);
});

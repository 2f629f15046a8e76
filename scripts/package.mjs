// Builds, offline and with each family's own tools, the two packages of
// rdrescue from dist/rdrescue (run `npm run build` first; `npm run package`
// does both):
//   dist/rdrescue_<version>_amd64.deb      dpkg-deb
//   dist/rdrescue-<version>-1.x86_64.rpm   rpmbuild (Debian's rpm package)
// --fast compresses with gzip -1 instead of xz (the tests, which check
// contents and behaviour, not size).
// Both install the single executable as /usr/bin/rdrescue, where the thin
// launcher in the initramfs looks for it, and the dracut and initramfs-tools
// hooks that put that launcher into every image the system builds.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';

const root = join(dirname(new URL(import.meta.url).pathname), '..');
const dist = join(root, 'dist');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const version = pkg.version;
const exe = join(dist, 'rdrescue');
if (!existsSync(exe)) {
  console.error('package: dist/rdrescue is missing: run `npm run build` first (or `npm run package`, which does)');
  process.exit(1);
}
const maintainer = execFileSync('git', ['-C', root, 'log', '-1', '--format=%an <%ae>'], { encoding: 'utf8' }).trim();
const summary = 'boot-recovery toolkit for Linux initramfs images and locked-out servers';
const description = [
  'rdrescue lists, inspects, extracts, diffs and rebuilds any initramfs the',
  'kernel can boot, and rescues a locked-out server from the initramfs break',
  'shell (dracut rd.break, initramfs-tools break=bottom) in one safe command:',
  'a lost root password, a bad fstab entry, an SELinux relabel.',
  '',
  'The dracut module and the initramfs-tools hook put a launcher of a few KiB',
  'into every initramfs; at the break prompt it starts this executable from',
  'the mounted root with that root\'s own libraries.',
];
const copyright = `Upstream-Name: rdrescue
License: ${pkg.license}
 Permission is hereby granted, free of charge, to any person obtaining a copy
 of this software and associated documentation files (the "Software"), to deal
 in the Software without restriction, including without limitation the rights
 to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
 copies of the Software, and to permit persons to whom the Software is
 furnished to do so, subject to the following conditions:
 .
 The above copyright notice and this permission notice shall be included in
 all copies or substantial portions of the Software.
 .
 THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
 IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
 FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
 AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
 LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
 OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
 SOFTWARE.
`;
// The changelog entry of a packaging run carries that run's date.
const date = new Date();
const fast = process.argv.includes('--fast');

/** Every file both packages install: path in the system, where it comes from, mode. */
function payload() {
  const files = [
    ['usr/bin/rdrescue', exe, 0o755],
    ['usr/lib/dracut/modules.d/95rdrescue/module-setup.sh', join(root, 'initramfs-hooks/dracut/95rdrescue/module-setup.sh'), 0o755],
    ['usr/share/initramfs-tools/hooks/rdrescue', join(root, 'initramfs-hooks/initramfs-tools/hooks/rdrescue'), 0o755],
    ['usr/share/initramfs-tools/scripts/init-bottom/rdrescue-runbook', join(root, 'initramfs-hooks/initramfs-tools/scripts/init-bottom/rdrescue-runbook'), 0o755],
    ['usr/share/rdrescue/runbook.schema.json', join(root, 'schema/runbook.schema.json'), 0o644],
  ];
  const extra = [];
  // The man page and the completion exist once the build makes them; packaged when present.
  const man = [join(dist, 'rdrescue.1'), join(root, 'docs/rdrescue.1')].find((p) => existsSync(p));
  if (man) extra.push(['usr/share/man/man1/rdrescue.1.gz', gzipSync(readFileSync(man), { level: 9 }), 0o644]);
  const completion = spawnSync(exe, ['completion', 'bash'], { encoding: 'utf8' });
  if (completion.status === 0 && completion.stdout.trim()) extra.push(['usr/share/bash-completion/completions/rdrescue', Buffer.from(completion.stdout), 0o644]);
  return [...files, ...extra];
}

function stage(dir, files) {
  for (const [path, from, mode] of files) {
    const dest = join(dir, path);
    mkdirSync(dirname(dest), { recursive: true });
    if (Buffer.isBuffer(from)) writeFileSync(dest, from);
    else copyFileSync(from, dest);
    chmodSync(dest, mode);
  }
  // Directories 0755 whatever the umask, as both linters expect.
  const walk = (d) => {
    chmodSync(d, 0o755);
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
  };
  walk(dir);
}

function sizeKiB(dir) {
  let bytes = 0;
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else bytes += statSync(p).size;
    }
  };
  walk(dir);
  return Math.ceil(bytes / 1024);
}

/** dpkg-shlibdeps works out the Depends line from the executable's ELF needs, as a Debian build would. */
function debDepends(tree) {
  const src = mkdtempSync(join(tmpdir(), 'rdrescue-shlibdeps-'));
  try {
    mkdirSync(join(src, 'debian'));
    writeFileSync(join(src, 'debian/control'), `Source: rdrescue\n\nPackage: rdrescue\nArchitecture: amd64\n`);
    const out = execFileSync('dpkg-shlibdeps', ['-O', join(tree, 'usr/bin/rdrescue')], { cwd: src, encoding: 'utf8' });
    return /shlibs:Depends=(.*)/.exec(out)[1].trim();
  } finally {
    rmSync(src, { recursive: true, force: true });
  }
}

function buildDeb(work, files) {
  const tree = join(work, 'deb');
  stage(tree, files);
  const doc = join(tree, 'usr/share/doc/rdrescue');
  mkdirSync(doc, { recursive: true });
  writeFileSync(join(doc, 'copyright'), `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n${copyright.replace('License:', `Files: *\nCopyright: ${date.getUTCFullYear()} rdrescue authors\nLicense:`)}`);
  copyFileSync(join(root, 'README.md'), join(doc, 'README.md'));
  // Node is built with its own zlib, and a single executable cannot link the system's.
  const overrides = join(tree, 'usr/share/lintian/overrides');
  mkdirSync(overrides, { recursive: true });
  writeFileSync(join(overrides, 'rdrescue'), '# Node.js links zlib statically; the single executable is that Node binary, so it cannot use libz.so.\nrdrescue: embedded-library zlib [usr/bin/rdrescue]\n');
  const stamp = date.toUTCString().replace('GMT', '+0000');
  writeFileSync(join(doc, 'changelog.gz'), gzipSync(Buffer.from(`rdrescue (${version}) unstable; urgency=medium\n\n  * Release ${version}.\n\n -- ${maintainer}  ${stamp}\n`), { level: 9 }));
  for (const f of ['copyright', 'changelog.gz', 'README.md']) chmodSync(join(doc, f), 0o644);
  for (const d of [doc, join(tree, 'usr/share/lintian'), overrides]) chmodSync(d, 0o755);
  chmodSync(join(overrides, 'rdrescue'), 0o644);
  const control = join(tree, 'DEBIAN');
  mkdirSync(control);
  writeFileSync(
    join(control, 'control'),
    [
      'Package: rdrescue',
      `Version: ${version}`,
      'Architecture: amd64',
      `Maintainer: ${maintainer}`,
      `Installed-Size: ${sizeKiB(tree)}`,
      `Depends: ${debDepends(tree)}`,
      'Suggests: initramfs-tools | dracut',
      'Section: admin',
      'Priority: optional',
      `Description: ${summary}`,
      ...description.map((l) => (l === '' ? ' .' : ` ${l}`)),
    ].join('\n') + '\n',
  );
  // update-initramfs runs once at the end of the dpkg run, after install, upgrade and removal alike:
  // the hook's arrival adds the launcher, its removal takes it out.
  writeFileSync(join(control, 'triggers'), 'activate-noawait update-initramfs\n');
  const sums = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (p === control) continue;
      if (e.isDirectory()) walk(p);
      else sums.push(`${createHash('md5').update(readFileSync(p)).digest('hex')}  ${relative(tree, p)}`);
    }
  };
  walk(tree);
  writeFileSync(join(control, 'md5sums'), sums.sort((a, b) => a.slice(34).localeCompare(b.slice(34))).join('\n') + '\n');
  for (const f of readdirSync(control)) chmodSync(join(control, f), 0o644);
  chmodSync(control, 0o755);
  const out = join(dist, `rdrescue_${version}_amd64.deb`);
  execFileSync('dpkg-deb', ['--root-owner-group', ...(fast ? ['-Zgzip', '-z1'] : ['-Zxz']), '--build', tree, `${out}.tmp`], { stdio: ['ignore', 'ignore', 'inherit'] });
  renameSync(`${out}.tmp`, out);
  return out;
}

/**
 * RPM scriptlets: dracut has no trigger like Debian's update-initramfs, so
 * the package rebuilds the images itself, as SUSE's regenerate_initrd
 * macros do for packages that ship dracut modules: after install or upgrade
 * (%posttrans, once per transaction) so the launcher gets in, and after the
 * last erase (%postun, the module already gone) so it goes away. Only images
 * that exist are rebuilt (--regenerate-all), and a failure does not fail the
 * transaction: the old images still boot, and `dracut -f` can be run again.
 */
const rpmRebuild = (why) => `if command -v dracut >/dev/null 2>&1; then
    dracut -f --regenerate-all >/dev/null 2>&1 || echo "rdrescue: dracut -f --regenerate-all failed; run it by hand to ${why} the rdrescue launcher" >&2
fi`;

function buildRpm(work, files) {
  const top = join(work, 'rpm');
  const tree = join(top, 'tree');
  stage(tree, files);
  writeFileSync(join(top, 'LICENSE'), copyright);
  const dirs = new Set();
  const paths = files.map(([p]) => `/${p}`);
  for (const p of ['/usr/lib/dracut/modules.d/95rdrescue', '/usr/share/rdrescue']) dirs.add(p);
  const spec = `Name: rdrescue
Version: ${version}
Release: 1
Summary: Boot-recovery toolkit for Linux initramfs images and locked-out servers
License: ${pkg.license}
Group: Applications/System
Packager: ${maintainer}
ExclusiveArch: x86_64
# The single executable carries Node's blob in an ELF note: stripping or
# re-linking it would destroy the program, and there is no debug info to split.
%global debug_package %{nil}
%global __os_install_post %{nil}
%global _build_id_links none

%description
${description.join('\n')}

%prep

%build

%install
cp -a ${tree}/. %{buildroot}/
install -D -m 0644 ${join(top, 'LICENSE')} %{buildroot}%{_datadir}/licenses/rdrescue/LICENSE
install -D -m 0644 ${join(root, 'README.md')} %{buildroot}%{_docdir}/rdrescue/README.md

%posttrans
${rpmRebuild('add')}

%postun
if [ "$1" -eq 0 ]; then
${rpmRebuild('remove')}
fi

%files
%license %{_datadir}/licenses/rdrescue/LICENSE
%doc %{_docdir}/rdrescue/README.md
${[...dirs].map((d) => `%dir ${d}`).join('\n')}
${paths.join('\n')}

%changelog
* ${date.toUTCString().slice(0, 3)} ${date.toUTCString().slice(8, 11)} ${date.toUTCString().slice(5, 7)} ${date.getUTCFullYear()} ${maintainer} - ${version}-1
- Release ${version}.
`;
  writeFileSync(join(top, 'rdrescue.spec'), spec);
  execFileSync('rpmbuild', ['-bb', '--quiet', '--define', `_topdir ${top}`, '--define', `_binary_payload ${fast ? 'w1.gzdio' : 'w6.xzdio'}`, join(top, 'rdrescue.spec')], { stdio: ['ignore', 'ignore', 'inherit'] });
  const built = join(top, 'RPMS/x86_64', `rdrescue-${version}-1.x86_64.rpm`);
  const out = join(dist, `rdrescue-${version}-1.x86_64.rpm`);
  // Signing needs the releaser's key, which a build machine should not hold; given one, sign here.
  if (process.env.RDRESCUE_RPM_SIGN_KEY) execFileSync('rpmsign', ['--addsign', '--define', `_gpg_name ${process.env.RDRESCUE_RPM_SIGN_KEY}`, built], { stdio: 'inherit' });
  copyFileSync(built, `${out}.tmp`);
  renameSync(`${out}.tmp`, out);
  return out;
}

const work = mkdtempSync(join(tmpdir(), 'rdrescue-package-'));
try {
  const files = payload();
  for (const out of [buildDeb(work, files), buildRpm(work, files)]) {
    console.log(`${relative(root, out)}: ${(statSync(out).size / 1048576).toFixed(1)} MiB`);
  }
  const missing = ['usr/share/man/man1/rdrescue.1.gz', 'usr/share/bash-completion/completions/rdrescue'].filter((p) => !files.some(([f]) => f === p));
  if (missing.length) console.log(`not packaged (not built yet): ${missing.map((p) => `/${p}`).join(', ')}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}

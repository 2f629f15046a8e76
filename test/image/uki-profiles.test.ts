// A multi-profile UKI (systemd 257) built with objcopy: a base with .cmdline
// and .initrd, then two .profile sections, each with its own .cmdline and the
// second with its own .initrd; and an addon with an .initrd in the UKI's
// .extra.d. The chain for each profile is what systemd-stub's rules give:
// the profile's sections override the base ones, addons' initrds come last.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openContainer } from '../../src/image/container.js';
import { rdrescue } from '../helpers/cli.js';
import { dracutImage, installedKernel } from '../helpers/real-images.js';
import { archiveOf, padTo } from '../helpers/sample-tree.js';
import { buildUki, scratch } from '../helpers/uki.js';

const { work, file } = scratch('rdrescue-uki-profiles-');
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const kver = installedKernel();
const small = (name: string, files: Record<string, string>) =>
  file(
    `${name}.cpio`,
    archiveOf(join(work, name), (root) => {
      for (const [p, body] of Object.entries(files)) {
        mkdirSync(join(root, p, '..'), { recursive: true });
        writeFileSync(join(root, p), body);
      }
    }),
  );

const main = dracutImage('gzip');
const rescue = small('rescue', { 'etc/rescue.conf': 'profile 1 only\n' });
const extra = small('extra', { 'etc/extra.conf': 'from the addon\n' });
const uki = join(work, 'multi.efi');
buildUki(uki, [
  ['.osrel', '/etc/os-release'],
  ['.cmdline', file('base-cmdline', 'root=/dev/vda1 ro')],
  ['.uname', file('uname', kver)],
  ['.linux', `/boot/vmlinuz-${kver}`],
  ['.initrd', main],
  ['.profile', file('p0', 'ID=default\nTITLE=Default boot')],
  ['.cmdline', file('p0-cmdline', 'root=/dev/vda1 ro quiet')],
  ['.profile', file('p1', 'ID=rescue\nTITLE=Rescue shell')],
  ['.cmdline', file('p1-cmdline', 'root=/dev/vda1 ro rd.break')],
  ['.initrd', rescue],
]);
mkdirSync(`${uki}.extra.d`);
// Debian 12's systemd-boot-efi (252) has no addonx64.efi.stub: the addon is a PE on the same stub, which is all a section reader sees.
buildUki(join(`${uki}.extra.d`, 'extra.addon.efi'), [['.cmdline', file('addon-cmdline', 'console=ttyS0')], ['.initrd', extra]]);

const ls = (args: string[]) => {
  const r = rdrescue(['ls', ...args]);
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout;
};
const lsOf = (...images: string[]) => images.map((i) => ls([i])).join('');

t.test('profile 0 (the default): base .initrd, then the addon', async (t) => {
  t.equal(ls([uki]), lsOf(main, extra));
  t.equal(ls(['--profile', '0', uki]), lsOf(main, extra));
  const i = rdrescue(['info', uki]);
  t.equal(i.status, 0, i.stderr);
  t.match(i.stdout, 'Command line: root=/dev/vda1 ro quiet\n', "profile 0's .cmdline overrides the base one");
  t.match(i.stdout, 'Profile:      0 (the default) of 2\n');
  t.match(i.stdout, '  profile 0: ID=default TITLE=Default boot\n');
  t.match(i.stdout, '  profile 1: ID=rescue TITLE=Rescue shell\n');
  t.match(i.stdout, `Initrd chain: UKI .initrd + addon extra.addon.efi .initrd\n`);
  t.match(i.stdout, /Addons:\n  .*extra\.addon\.efi: .*\.cmdline .initrd\n/);
});

t.test("profile 1: its own .initrd replaces the base one, the addon still comes last", async (t) => {
  t.equal(ls(['--profile', '1', uki]), lsOf(rescue, extra));
  const i = rdrescue(['info', '--profile', '1', uki]);
  t.match(i.stdout, 'Command line: root=/dev/vda1 ro rd.break\n');
  t.match(i.stdout, 'Initrd chain: UKI .initrd (profile 1) + addon extra.addon.efi .initrd\n');
  const c = rdrescue(['cat', '--profile', '1', uki, 'etc/rescue.conf', 'etc/extra.conf']);
  t.equal(c.stdout, 'profile 1 only\nfrom the addon\n');
  const d = rdrescue(['diff', '--profile', '1', uki, file('p1-chain.img', Buffer.concat([padTo(readFileSync(rescue), 4), readFileSync(extra)]))]);
  t.equal(d.stdout, '0 added, 0 removed, 0 changed\n', 'diff with --profile against the chain it boots');
});

t.test('--addons DIR replaces the default .extra.d', async (t) => {
  const empty = join(work, 'no-addons');
  mkdirSync(empty);
  t.equal(ls(['--addons', empty, uki]), lsOf(main));
  const c = await openContainer(uki, { addons: `${uki}.extra.d`, profile: 1 });
  t.same(c.parts.map((p) => p.label), ['UKI .initrd (profile 1)', 'addon extra.addon.efi .initrd']);
});

t.test('an addon made for another kernel is skipped, as the stub skips it', async (t) => {
  const dir = join(work, 'other-addons');
  mkdirSync(dir);
  buildUki(join(dir, 'other.addon.efi'), [['.uname', file('other-uname', '1.2.3-other')], ['.initrd', extra]]);
  t.equal(ls(['--addons', dir, uki]), lsOf(main));
  const i = rdrescue(['info', '--addons', dir, uki]);
  t.match(i.stdout, /other\.addon\.efi: .*\.uname \.initrd \(not loaded: its \.uname "1\.2\.3-other" is not the UKI's "/);
});

t.test('a profile that does not exist is a usage error', async (t) => {
  const r = rdrescue(['ls', '--profile', '2', uki]);
  t.equal(r.status, 2);
  t.match(r.stderr, /^rdrescue: .*multi\.efi: no profile 2: the UKI has profiles 0-1\n$/);
  const plain = rdrescue(['ls', '--profile', '1', main]);
  t.equal(plain.status, 2);
  t.match(plain.stderr, /--profile and --addons apply to a UKI; this file is not one/);
});

t.test('objdump sees the same section table: two .profile, three .cmdline, two .initrd', async (t) => {
  const names = [...execFileSync('objdump', ['-h', uki]).toString().matchAll(/^\s*\d+\s+(\S+)/gm)].map((m) => m[1]);
  t.same(names.filter((n) => n === '.profile').length, 2);
  const c = await openContainer(uki);
  t.same(c.uki!.sections.map((s) => s.name), names);
});

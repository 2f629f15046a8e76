// Real trees a rescuer meets: the distribution's initramfs (busybox sh), a
// dracut image (its own bash) and a root made by `rdrescue mkroot` (the
// host's bash and util-linux ipcs with their libraries). Each runs its own
// programs, isolated, and leaves nothing behind.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rdrescue } from '../helpers/cli.js';
import { mountChanges, mountTable } from './helpers.js';

const work = mkdtempSync(join(tmpdir(), 'rdrescue-sbtest-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const tmp = join(work, 'tmp');
execFileSync('mkdir', [tmp]);
const env = { ...process.env, TMPDIR: tmp };
const kver = readdirSync('/lib/modules')[0];

function sandbox(target: string, args: string[]) {
  return rdrescue(['sandbox', target, '--hostname', 'rescue', ...args], { env });
}

const distro = readdirSync('/boot')
  .filter((n) => n.startsWith('initrd.img-'))
  .map((n) => join('/boot', n))[0];

t.test("the distribution's initramfs runs its busybox sh", { skip: distro ? false : 'no /boot/initrd.img-*' }, async (t) => {
  const before = mountTable();
  const r = sandbox(distro!, ['--', '/bin/sh', '-c', '/bin/sh --help 2>&1 | head -1; hostname; ps -o pid,comm; ls /sys/class/net; ls /scripts/init-top > /dev/null && echo initramfs-tools; echo x > /x']);
  t.not(r.status, 0, 'the write to / failed');
  const out = r.stdout.split('\n');
  t.match(out[0], /^BusyBox v/, "the image's busybox is the shell");
  t.equal(out[1], 'rescue');
  t.match(r.stdout, /^\s*1 sh$/m);
  t.ok(out.includes('lo') && !out.includes('eth0'));
  t.ok(out.includes('initramfs-tools'));
  t.match(r.stderr, /Read-only file system/);
  t.same(readdirSync(tmp), [], 'extracted tree removed');
  t.same(mountChanges(before, mountTable(), [work]), []);
});

t.test('a dracut image runs its own bash', async (t) => {
  const img = join(work, 'dracut.img');
  const build = spawnSync('dracut', ['--force', '--quiet', '--no-hostonly', '--kver', kver, '-m', 'base', '--no-compress', '--no-early-microcode', img], { encoding: 'utf8' });
  t.equal(build.status, 0, build.stderr);
  const r = sandbox(img, ['--', '/bin/sh', '-c', 'echo "$BASH_VERSION"; echo $$; cat /proc/sys/kernel/hostname; ls /sys/class/net; [ -f /etc/initrd-release ] && echo dracut']);
  t.equal(r.status, 0, r.stderr);
  const out = r.stdout.split('\n');
  t.match(out[0], /^\d+\.\d+/, 'bash from the image');
  t.equal(out[1], '1', 'bash is PID 1');
  t.equal(out[2], 'rescue');
  t.same(out.slice(3, 5), ['lo', 'dracut']);
  t.same(readdirSync(tmp), []);
});

t.test('a mkroot tree: the host bash and util-linux ipcs, with their libraries', async (t) => {
  const root = join(work, 'mkroot');
  const mk = rdrescue(['mkroot', root, 'bash', 'ipcs', 'ps', 'cat']);
  t.equal(mk.status, 0, mk.stderr);
  t.notOk(existsSync(join(root, 'proc')), 'mkroot makes no /proc: the sandbox creates mount points in its overlay');
  const id = /(\d+)/.exec(execFileSync('ipcmk', ['-M', '4096']).toString())![1];
  t.teardown(() => void spawnSync('ipcrm', ['-m', id]));
  t.match(execFileSync('ipcs', ['-m']).toString(), new RegExp(`\\b${id}\\b`), 'the host has a segment');
  const r = sandbox(root, ['--', '/bin/bash', '-c', 'ipcs -m; ps -e -o pid=,comm=; true']);
  t.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  t.notOk(lines.some((l) => /^0x[0-9a-f]+\s/.test(l)), `no segment inside:\n${r.stdout}`);
  t.same(lines.slice(-2).map((l) => l.trim().split(/\s+/)[1]), ['bash', 'ps']);
  t.equal(lines[lines.length - 2].trim().split(/\s+/)[0], '1');
  t.notOk(existsSync(join(root, 'proc')), 'and the tree is unchanged');
  const noSh = rdrescue(['sandbox', root]);
  t.equal(noSh.status, 127, 'mkroot without sh: the default command is missing');
});

import { chmodSync, copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { mkroot } from '../../src/elf/mkroot.js';
import { cached } from './cache.js';
import { run } from './run.js';

/** The locked-out server: its root password is this, and nobody remembers it. */
export const OLD_ROOT_PASSWORD = 'old-root-pw';
let shadowLines: string[] | undefined;

/** Every account but root must come through the rescue byte for byte. Computed on first use, so a missing mkpasswd is reported as a skip, not a crash. */
export function shadow(): string[] {
  if (shadowLines) return shadowLines;
  // Fixed salts keep the disk image, and so its cache key, reproducible.
  const rootHash = run('mkpasswd', ['-m', 'sha-512', '-S', 'rootsalt12345678', OLD_ROOT_PASSWORD]).trim();
  const aliceHash = run('mkpasswd', ['-m', 'sha-512', '-S', 'alicesalt1234567', 'alice-pw']).trim();
  shadowLines = [
    `root:${rootHash}:19000:0:99999:7:::`,
    'daemon:*:19000:0:99999:7:::',
    `alice:${aliceHash}:19000:0:99999:7:::`,
    `bob:!${aliceHash}:19000:0:99999:7:::`,
    'nobody:*:19000:0:99999:7:::',
  ];
  return shadowLines;
}

const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
  'alice:x:1000:1000:Alice:/home/alice:/bin/sh',
  'bob:x:1001:1001:Bob:/home/bob:/bin/sh',
  'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
];

/**
 * A stand-in for the real /sbin/init: it proves the boot reached the real
 * root, shows which /etc/shadow it sees, and powers off cleanly (root
 * remounted read-only first, so the disk needs no journal replay).
 */
const INIT = `#!/bin/sh
PATH=/bin:/sbin:/usr/bin:/usr/sbin
export PATH
mount -t proc proc /proc 2>/dev/null
echo "@@INIT-REACHED@@"
echo "@@SHADOW-SHA256=$(sha256sum /etc/shadow | cut -d' ' -f1)@@"
mount -a
echo "@@MOUNT-A-RC=$?@@"
sync
mount -o remount,ro /
echo "@@INIT-POWEROFF@@"
echo o > /proc/sysrq-trigger
sleep 60
`;

function file(root: string, path: string, content: string, mode = 0o644): void {
  const p = join(root, path);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, content);
  chmodSync(p, mode);
}

/** A busybox-static root: no network, no debootstrap, about 2 MB. */
export function buildRootTree(root: string): void {
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'proc', 'sys', 'dev', 'run', 'tmp', 'root', 'home', 'data']) {
    mkdirSync(join(root, d), { recursive: true });
  }
  chmodSync(join(root, 'root'), 0o700);
  chmodSync(join(root, 'tmp'), 0o1777);
  copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
  chmodSync(join(root, 'bin/busybox'), 0o755);
  for (const applet of run('/bin/busybox', ['--list-full']).split('\n').filter(Boolean)) {
    if (applet === 'sbin/init' || applet === 'linuxrc' || applet === 'bin/busybox') continue;
    try {
      symlinkSync('/bin/busybox', join(root, applet));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  file(root, 'sbin/init', INIT, 0o755);
  // systemd's initrd switches only into an OS tree, which it recognises by os-release.
  file(root, 'etc/os-release', 'NAME="rdrescue test root"\nID=rdrescue-test\n');
  file(root, 'etc/passwd', PASSWD.join('\n') + '\n');
  file(root, 'etc/shadow', shadow().join('\n') + '\n', 0o640);
  file(root, 'etc/group', 'root:x:0:\ndaemon:x:1:\nshadow:x:42:\nalice:x:1000:\nbob:x:1001:\nnogroup:x:65534:\n');
  file(root, 'etc/hostname', 'locked-out\n');
  file(root, 'etc/fstab', '# <file system> <mount point> <type> <options> <dump> <pass>\nLABEL=root / ext4 defaults 0 1\nproc /proc proc defaults 0 0\n');
  file(root, 'etc/selinux/config', 'SELINUX=enforcing\nSELINUXTYPE=targeted\n');
  for (const [user, id] of [['alice', 1000], ['bob', 1001]] as const) {
    mkdirSync(join(root, 'home', user));
    run('chown', [`${id}:${id}`, join(root, 'home', user)]);
  }
}

/** The pristine disk, built once per cache key; each scenario rescues its own sparse copy. */
export async function baseDisk(key: string): Promise<{ path: string; built: boolean }> {
  return cached(`disk-${key}.img`, async (tmp) => {
    const tree = `${tmp}.tree`;
    try {
      buildRootTree(tree);
      run('mkfs.ext4', ['-q', '-F', '-L', 'root', '-d', tree, tmp, '300M']);
    } finally {
      run('rm', ['-rf', tree]);
    }
  });
}

/**
 * The same server with rdrescue installed the way the packages install it
 * (/usr/bin/rdrescue) and the host's glibc, libstdc++ and libgcc_s where a
 * merged-/usr Debian root keeps them: what the thin launcher starts.
 */
export function buildRootTreeWithRdrescue(root: string, sea: string): void {
  mkroot(root, [`${sea}:/usr/bin/rdrescue`]);
  buildRootTree(root);
}

/** Made per run, not cached: the executable on it is this run's build. */
export function diskWithRdrescue(out: string, sea: string): void {
  const tree = `${out}.tree`;
  try {
    buildRootTreeWithRdrescue(tree, sea);
    run('mkfs.ext4', ['-q', '-F', '-L', 'root', '-d', tree, out, '300M']);
  } finally {
    run('rm', ['-rf', tree]);
  }
}

export function copyDisk(base: string, out: string): void {
  run('cp', ['--sparse=always', base, out]);
}

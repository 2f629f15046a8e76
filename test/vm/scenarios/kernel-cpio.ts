// Proof that rdrescue reads a kernel-made image as the kernel unpacks it: an
// initramfs written the way usr/gen_init_cpio writes it (symlink targets
// stored with their NUL, `-a 512` name padding, a symlink named TRAILER!!!),
// followed by an archive with entries of unknown type, boots the VM test's
// kernel. Its /init is itself such a symlink; it lists the unpacked tree on
// the console and powers off. The same listing, run on the host over
// `rdrescue extract --merged` of the same image, must be identical, and the
// link targets `rdrescue ls -l` prints must be the ones the guest read.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { genInitCpio } from '../../helpers/gen-init-cpio.js';
import { newcEntry } from '../../helpers/newc-entry.js';
import { check, timings, type Scenario, type VmEnv } from '../harness.js';
import { run, seconds } from '../run.js';
import { Vm } from '../vm.js';

const T = 1700000000;

/**
 * One line per path, the same in the guest and on the host (both run
 * busybox): mode, owner, mtime, and per type the nlink and size, link
 * target, data digest or device number. Directory sizes and link counts
 * depend on the filesystem, so they are left out.
 */
const LISTER = `list() {
  $B find "$@" | $B sort | while IFS= read -r p; do
    if [ -L "$p" ]; then x="$($B stat -c '%h %s' "$p") -> $($B readlink "$p")"
    elif [ -d "$p" ]; then x=dir
    elif [ -f "$p" ]; then x="$($B stat -c '%h %s' "$p") md5 $($B md5sum < "$p" | $B cut -d' ' -f1)"
    else x="$($B stat -c '%h dev %t:%T' "$p")"; fi
    echo "@@L $($B stat -c '%A %u:%g %Y' "$p") $p $x@@"
  done
}
`;

/** The paths compared: the test tree and the symlink named TRAILER!!! at the top. */
const COMPARED = `k 'TRAILER!!!'`;

function listing(text: string): string[] {
  return [...text.replace(/\r/g, '').matchAll(/@@L (.*?)@@/g)].map((m) => m[1]);
}

async function kernelCpio(env: VmEnv): Promise<void> {
  const dir = join(env.work, 'kernel-cpio');
  mkdirSync(dir, { recursive: true });
  const busybox = run('sh', ['-c', 'command -v busybox']).trim();
  const init = join(dir, 'rdcheck');
  writeFileSync(
    init,
    `#!/bin/sh\nB=/bin/busybox\n${LISTER}echo "@@BOOTED init=$($B readlink /init) sh=$($B readlink /bin/sh)@@"\ncd /\nlist ${COMPARED}\necho @@LISTED@@\n$B poweroff -f\n`,
  );
  const big = join(dir, 'big');
  writeFileSync(big, Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 2654435761) >>> 24)));
  const small = join(dir, 'small');
  writeFileSync(small, 'small\n');
  const kernelMade = genInitCpio(
    `dir /bin 0755 0 0
file /bin/busybox ${busybox} 0755 0 0
slink /bin/sh busybox 0777 0 0
file /bin/rdcheck ${init} 0755 0 0
slink /init /bin/rdcheck 0777 0 0
dir /k 0751 1000 100
dir /k/dir 0750 0 0
file /k/dir/big ${big} 0640 0 0 /k/dir/big-link /k/big-link2
file /k/dir/small ${small} 0600 1 2
slink /k/abs /k/dir/big 0777 0 0
slink /k/rel dir/small 0777 3 4
slink /k/dangling /nonexistent/target 0777 0 0
slink /TRAILER!!! /k/dir/small 0777 0 0
pipe /k/fifo 0644 0 0
nod /k/null 0666 0 0 c 1 3
dir /k/empty 0700 0 0
file /k/gone ${small} 0644 0 0
`,
    { mtime: T, align: 512 },
  );
  // -a 512 pads the name fields of files over 512 bytes with NULs so their data is aligned
  const namesize = (name: string) => {
    const at = kernelMade.indexOf(Buffer.from(`${name}\0`));
    return parseInt(kernelMade.subarray(at - 16, at - 8).toString('latin1'), 16);
  };
  const padded = ['bin/busybox', 'k/big-link2'].filter((n) => namesize(n) > n.length + 1);
  check('kernel-cpio: the image really has NUL-padded names (-a 512)', padded.length > 0, `name fields: ${namesize('bin/busybox')}, ${namesize('k/big-link2')}`);
  // A second archive with entries of unknown type: k/weird carries data and is skipped whole;
  // the data-less k/gone goes through do_name(), whose clean_path() removes the k/gone made above.
  const unknownTypes = Buffer.concat([
    newcEntry('k/gone', 0o000644, '', { ino: 1, mtime: T }),
    newcEntry('k/weird', 0o170644, 'weird body\n', { ino: 2, mtime: T }),
    newcEntry('k/after', 0o100644, 'after\n', { ino: 3, mtime: T }),
    newcEntry('TRAILER!!!', 0),
  ]);
  const image = join(dir, 'initrd.cpio');
  writeFileSync(image, Buffer.concat([kernelMade, unknownTypes]));

  const t = Date.now();
  const vm = new Vm({ name: 'kernel-cpio', accel: env.accel, vmlinux: env.vmlinux, initrd: image, append: 'console=ttyS0 quiet panic=-1', memory: '256M', log: join(dir, 'console.log') });
  let guest: string[] = [];
  try {
    await vm.boot();
    const booted = await vm.expect(/@@BOOTED (.*?)@@/, 240_000, 'the /init script');
    check('kernel-cpio: the kernel ran /init through the symlinks gen_init_cpio stored with their NUL', booted[1] === 'init=/bin/rdcheck sh=busybox', booted[1]);
    await vm.expect(/@@LISTED@@/, 120_000, 'the listing');
    guest = listing(vm.transcript());
    await vm.exit(60_000);
  } finally {
    await vm.kill();
  }
  timings.push(['kernel-cpio: boot of a gen_init_cpio image', seconds(t)]);
  const has = (p: string) => guest.some((l) => l.split(' ')[3] === p);
  check('kernel-cpio: the guest has the tree, with the symlink named TRAILER!!! and the file after the unknown types', has('k/dir/big') && has('TRAILER!!!') && has('k/after'), guest.join('\n'));
  check('kernel-cpio: the kernel created no entry of unknown type and removed k/gone', !has('k/weird') && !has('k/gone'), guest.join('\n'));

  const out = join(dir, 'extracted');
  const x = spawnSync(env.sea, ['extract', '--merged', image, out], { encoding: 'utf8' });
  check('kernel-cpio: rdrescue extract --merged succeeds, warning about the entries of unknown type', x.status === 0 && /skipped entry "k\/weird"/.test(x.stderr) && /skipped entry "k\/gone".*was there and is removed/.test(x.stderr), `exit ${x.status}: ${x.stderr}`);
  const host = listing(run('sh', ['-c', `B=${busybox}\n${LISTER}cd "$1" && list ${COMPARED}`, 'sh', out]));
  const diff = [...guest.filter((l) => !host.includes(l)).map((l) => `guest only: ${l}`), ...host.filter((l) => !guest.includes(l)).map((l) => `rdrescue only: ${l}`)];
  check(`kernel-cpio: rdrescue extract gives exactly the tree the kernel unpacked (${guest.length} paths: modes, owners, mtimes, links, data, devices)`, guest.length > 10 && diff.length === 0 && host.join('\n') === guest.join('\n'), diff.join('\n'));

  const ls = spawnSync(env.sea, ['ls', '-l', image], { encoding: 'utf8' });
  const links = new Map([...ls.stdout.matchAll(/ (\S+) -> (.*)\n/g)].map((m) => [m[1], m[2]]));
  const guestLinks = guest.filter((l) => l.includes(' -> ')).map((l) => [l.split(' ')[3], l.split(' -> ')[1]] as const);
  const wrong = guestLinks.filter(([p, target]) => links.get(p) !== target).map(([p, target]) => `${p}: guest ${target}, rdrescue ls -l ${links.get(p)}`);
  check(`kernel-cpio: rdrescue ls -l prints the link targets the guest read (${guestLinks.length} links, no NUL)`, ls.status === 0 && guestLinks.length >= 4 && wrong.length === 0 && !ls.stdout.includes('\0'), wrong.join('\n') || ls.stderr);
}

export function scenarios(): Scenario[] {
  return [['kernel-cpio: a gen_init_cpio image with symlinks and -a 512 boots, and rdrescue sees what the kernel unpacked', kernelCpio]];
}

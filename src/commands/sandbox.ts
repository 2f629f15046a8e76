import type { Command } from 'commander';
import { RdError, EXIT } from '../errors.js';
import { runSandbox } from '../sandbox/sandbox.js';
import { examples } from './examples.js';

interface Opts {
  merged?: boolean;
  hostname?: string;
  net: string;
  bind?: string[];
  rw?: boolean;
  overlay?: boolean;
  userns?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('sandbox')
    .description(
      "run a shell or command inside an image's tree or a directory, in new PID, mount, UTS, IPC and network namespaces " +
        '(a user namespace too when not root), with /proc, a minimal /dev and a read-only /sys; the tree is read-only unless --rw, ' +
        'and nothing is mounted on the host',
    )
    .argument('<image|dir>', 'initramfs image (extracted to a temporary directory, removed afterwards) or a directory such as a rescued root')
    .argument('[command...]', "command to run inside, after -- (default: the tree's /bin/sh)")
    .option('--merged', 'run an image as the kernel sees it, all segments in one tree (the only view an image runs in; accepted for symmetry with extract)')
    .option('--hostname <name>', 'hostname inside the sandbox', 'rdrescue-sandbox')
    .option('--net <mode>', 'none: only lo; veth: a veth pair with a private 169.254.x.y/30 link to the host and no route beyond it (root only)', 'none')
    .option('--bind <src:dst>', 'bind a host path into the tree (read-only unless --rw; dst is resolved inside the tree and may not use ..); repeatable', (v: string, prev: string[] = []) => [...prev, v])
    .option('--rw', 'let writes go through to the directory (default: read-only; an image tree is discarded either way)')
    .option('--overlay', 'let writes succeed but keep them in a temporary layer that is thrown away')
    .option('--userns', 'use a user namespace (caller mapped to root) even when run as root')
    .addHelpText('after', '\nThe exit status is the command\'s; 128+N when it was killed by signal N; 127 when the command is not in the tree.\nHost needs: util-linux (unshare, setpriv, nsenter), coreutils chroot, hostname, iproute2 for --net veth, overlayfs and namespaces in the kernel.\n')
    .action(async (target: string, command: string[], o: Opts) => {
      if (o.net !== 'none' && o.net !== 'veth') throw new RdError(`--net must be none or veth, got ${JSON.stringify(o.net)}`, {}, EXIT.usage);
      if (o.rw && o.overlay) throw new RdError('--rw and --overlay exclude each other', {}, EXIT.usage);
      const r = await runSandbox(target, {
        command,
        hostname: o.hostname,
        net: o.net,
        binds: o.bind,
        rw: o.rw,
        overlay: o.overlay,
        userns: o.userns ? true : undefined,
        onWarning: (m) => process.stderr.write(`rdrescue: warning: ${m}\n`),
        onStart: ({ veth }) => {
          if (veth) process.stderr.write(`rdrescue: sandbox link: host ${veth.hostIf} ${veth.hostAddr} <-> sandbox eth0 ${veth.sandboxAddr}\n`);
        },
      });
      process.exitCode = r.exitCode;
    });
  examples(cmd, [
    ['rdrescue sandbox /boot/initrd.img-6.1.0-18-amd64', 'a shell inside the image\'s tree, in its own namespaces'],
    ['rdrescue sandbox /mnt/broken --overlay -- /usr/bin/dpkg -l bash', 'writes succeed and are thrown away'],
    ['rdrescue sandbox /srv/root --userns --hostname test -- /bin/sh -c \'id; hostname\'', 'a tree you do not trust, in a user namespace'],
  ]);
}

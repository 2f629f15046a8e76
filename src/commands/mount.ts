import type { Command } from 'commander';
import { mountDisk, SeveralRootsError } from '../host/mount-disk.js';
import { readRecords, type HeldMount } from '../host/record.js';
import { printJson } from '../output.js';
import { RdError, EXIT } from '../errors.js';
import { readDiskLayout } from '../host/block-devices.js';
import type { LuksKey } from '../host/luks.js';
import { readPasswordStdin, readPasswordTty } from '../rescue/password-input.js';
import { examples } from './examples.js';

function size(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let n = bytes;
  while (n >= 1024 && i < units.length - 1) (n /= 1024), i++;
  return `${n >= 10 || i === 0 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function mountLines(r: HeldMount): string[] {
  return r.steps.flatMap((s) => (s.kind === 'mount' ? [`  ${s.what.padEnd(10)} ${s.device.padEnd(12)} ${s.fsType.padEnd(6)} ${s.options.join(',') || 'rw'}`] : []));
}

function list(json: boolean | undefined): void {
  const records = readRecords().map((r) => ({ ...r, interrupted: !r.complete && !alive(r.pid) }));
  if (json) return printJson(records);
  if (!records.length) return void process.stdout.write('rdrescue holds nothing mounted\n');
  const out: string[] = [];
  for (const r of records) {
    out.push(`${r.at}: ${r.osName ?? 'no root yet'} from ${r.source}, ${r.readOnly ? 'read-only' : 'read-write'}${r.interrupted ? ' (interrupted: rdrescue umount ' + r.at + ' cleans up)' : ''}`);
    out.push(...mountLines(r));
  }
  process.stdout.write(out.join('\n') + '\n');
}

export function register(program: Command): void {
  const cmd = program
    .command('mount')
    .description("find the broken server's root on a disk, partition or image file, and mount it with what its own fstab needs for a repair (/boot, /boot/efi, /usr, /var…), read-only until a fixing command asks for a change")
    .argument('[source]', 'a disk (/dev/sdb), a partition, or a raw disk image file; default: the one disk here holding a Linux root that this system does not use')
    .option('--at <dir>', 'where to mount the root (default: /mnt/rdrescue, or /mnt/rdrescue-N when taken)')
    .option('--rw', 'mount read-write now (journals are replayed); default: read-only, made writable by the first command that changes something')
    .option('--volume <spec>', 'which root when there are several: a partition number, UUID=…, LABEL=…, PARTUUID=… or PARTLABEL=…')
    .option('--passphrase-stdin', 'read the LUKS passphrase from stdin (default: asked on the terminal when the disk has LUKS volumes)')
    .option('--key-file <file>', 'open LUKS volumes with this key file')
    .option('--list', 'show what rdrescue holds mounted')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
Never runs fsck, xfs_repair or mkfs: a filesystem that needs its journal
replayed is mounted without it and reported with the repair command.
rdrescue umount undoes everything, also after this command was killed.
See docs/rescue-host.md.`,
    )
    .action(async (source: string | undefined, o: { at?: string; rw?: boolean; volume?: string; list?: boolean; json?: boolean; passphraseStdin?: boolean; keyFile?: string }) => {
      if (o.list) return list(o.json);
      if (o.passphraseStdin && o.keyFile) throw new RdError('--passphrase-stdin and --key-file exclude each other', {}, EXIT.usage);
      let luks: LuksKey | undefined = o.keyFile ? { keyFile: o.keyFile } : o.passphraseStdin ? { passphrase: readPasswordStdin() } : undefined;
      if (!luks && source !== undefined && process.stdin.isTTY && readDiskLayout(source).volumes.some((v) => v.type === 'crypto_LUKS')) {
        luks = { passphrase: await readPasswordTty('', false, `Passphrase for the LUKS volume on ${source}: `) };
      }
      let r: HeldMount;
      try {
        r = mountDisk({ source, at: o.at, rw: o.rw, volume: o.volume, luks });
      } catch (e) {
        if (!(e instanceof SeveralRootsError)) throw e;
        const roots = e.candidates.map((c) => ({ source: c.source, partition: c.volume.partNumber, subvolume: c.subvol, fsType: c.volume.type, uuid: c.volume.uuid, label: c.volume.label, os: c.prettyName, size: c.volume.range.size }));
        if (o.json) printJson({ error: e.message, roots });
        else {
          const rows = roots.map((c) => `  ${`${c.source}${c.partition !== undefined ? ` partition ${c.partition}` : ''}${c.subvolume ? ` subvol ${c.subvolume}` : ''}`.padEnd(36)} ${String(c.fsType).padEnd(6)} ${size(c.size).padStart(9)}  ${c.os}  (--volume ${c.partition ?? `UUID=${c.uuid}`})`);
          process.stdout.write(rows.join('\n') + '\n');
        }
        throw e;
      }
      if (o.json) return printJson(r);
      const out = [`mounted ${r.osName} from ${r.source} on ${r.at}, ${r.readOnly ? 'read-only (the first fixing command makes it writable)' : 'read-write'}`, ...mountLines(r)];
      for (const n of r.notes) out.push(n.startsWith('warning: ') ? n : `note: ${n}`);
      out.push(`next: rdrescue passwd root --root ${r.at} (or any rescue command with --root ${r.at}); then rdrescue umount ${r.at}`);
      process.stdout.write(out.join('\n') + '\n');
    });
  examples(cmd, [
    ['rdrescue mount /dev/sdb', "the broken VM's disk attached to this rescue VM: its root on /mnt/rdrescue, with its /boot"],
    ['rdrescue mount disk.img --at /mnt/broken --json', 'a downloaded snapshot (raw disk image); the record as JSON'],
    ['rdrescue mount && rdrescue passwd root --root /mnt/rdrescue && rdrescue umount', 'find the one attached disk, reset root, let go'],
  ]);
}

// Our partition-table and superblock readers against the real tools:
// blkid -p for TYPE/UUID/LABEL, sfdisk -J for the tables.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { readDiskLayout } from '../../src/host/block-devices.js';
import { resolveSpec } from '../../src/host/resolve.js';
import { blkid, buildDisk, sh, withRange } from './disk.js';

function sfdiskParts(image: string): Array<{ start: number; size: number; uuid?: string; name?: string; type: string }> {
  return JSON.parse(sh('sfdisk', ['-J', image])).partitiontable.partitions;
}

t.test('GPT: every filesystem and container type agrees with blkid, PARTUUID/PARTLABEL with sfdisk', async (t) => {
  const d = buildDisk('gpt', [
    { sizeMiB: 16, fs: 'ext4', label: 'boot', name: 'EFI boot' },
    { sizeMiB: 300, fs: 'xfs', label: 'root' },
    { sizeMiB: 120, fs: 'btrfs', label: 'data' },
    { sizeMiB: 8, fs: 'swap', label: 'swp' },
    { sizeMiB: 20, name: 'luks' },
    { sizeMiB: 8, name: 'pv' },
  ]);
  t.teardown(() => d.cleanup());
  const key = `${d.dir}/key`;
  writeFileSync(key, 'correct horse');
  withRange(d.image, d.parts[4], (loop) => sh('cryptsetup', ['luksFormat', '-q', '--type', 'luks2', '--label', 'secret', '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000', '--key-file', key, loop]));
  withRange(d.image, d.parts[5], (loop) => {
    const r = spawnSync('pvcreate', ['-q', '--devices', loop, loop], { encoding: 'utf8' });
    if (r.status !== 0) t.comment(`pvcreate: ${r.stderr}`);
  });
  const layout = readDiskLayout(d.image);
  t.equal(layout.table?.kind, 'gpt');
  const sf = sfdiskParts(d.image);
  t.equal(layout.volumes.length, sf.length);
  layout.volumes.forEach((v, i) => {
    const oracle = blkid(d.image, d.parts[i]);
    t.equal(v.range.offset, d.parts[i].offset, `partition ${i + 1} offset`);
    t.equal(v.range.size, d.parts[i].size, `partition ${i + 1} size`);
    t.equal(v.partUuid, sf[i].uuid?.toLowerCase(), `partition ${i + 1} PARTUUID`);
    t.equal(v.partLabel, sf[i].name, `partition ${i + 1} PARTLABEL`);
    if (!oracle.TYPE) return t.equal(v.type, undefined);
    t.equal(v.type, oracle.TYPE, `partition ${i + 1} TYPE`);
    t.equal(v.uuid, oracle.UUID, `partition ${i + 1} UUID`);
    t.equal(v.label, oracle.LABEL, `partition ${i + 1} LABEL`);
  });
  t.equal(layout.volumes[4].luksVersion, 2);
  t.equal(resolveSpec(`PARTUUID=${sf[1].uuid}`, layout.volumes)?.volume, layout.volumes[1]);
  t.equal(resolveSpec('LABEL=root', layout.volumes)?.volume, layout.volumes[1]);
  t.equal(resolveSpec(`UUID=${layout.volumes[2].uuid!.toUpperCase()}`, layout.volumes)?.volume, layout.volumes[2], 'UUIDs match whatever their case');
  t.equal(resolveSpec('/dev/disk/by-partlabel/EFI\\x20boot', layout.volumes)?.volume, layout.volumes[0], 'udev escapes in by-* names');
  t.equal(resolveSpec('/dev/vda2', layout.volumes), undefined, 'a plain kernel name is not guessed unless asked');
  const guess = resolveSpec('/dev/vda2', layout.volumes, { partitionNumbers: true });
  t.equal(guess?.volume, layout.volumes[1]);
  t.match(guess?.note, /partition 2 of the disk being rescued/);
});

t.test('MBR with logical partitions: numbers, offsets and PARTUUIDs as sfdisk and blkid have them', async (t) => {
  const d = buildDisk('mbr', [{ sizeMiB: 8, fs: 'ext4', label: 'first' }]);
  t.teardown(() => d.cleanup());
  // an extended partition with two logical ones after the primary
  sh('truncate', ['-s', '64M', d.image]);
  sh('sfdisk', ['-q', '-a', d.image], 'type=5\n');
  sh('sfdisk', ['-q', '-a', d.image], 'size=12MiB\nsize=12MiB\n');
  const sf = sfdiskParts(d.image);
  const logical = sf.filter((p) => p.type === '83').slice(1);
  t.equal(logical.length, 2);
  withRange(d.image, { offset: logical[1].start * 512, size: logical[1].size * 512 }, (loop) => sh('mkfs.ext4', ['-q', '-L', 'sixth', loop]));
  const layout = readDiskLayout(d.image);
  t.same(layout.volumes.map((v) => v.partNumber), [1, 5, 6]);
  const sixth = layout.volumes[2];
  t.equal(sixth.range.offset, logical[1].start * 512);
  t.equal(sixth.label, 'sixth');
  const disklabel = JSON.parse(sh('sfdisk', ['-J', d.image])).partitiontable.id.replace(/^0x/, '');
  t.equal(sixth.partUuid, `${disklabel}-06`);
});

t.test('a filesystem on the whole disk has no partition table, even when its boot sector ends in 55 aa', async (t) => {
  const d = buildDisk('gpt', [{ sizeMiB: 16 }]);
  t.teardown(() => d.cleanup());
  sh('mkfs.ext4', ['-q', '-F', '-L', 'whole', d.image]);
  const layout = readDiskLayout(d.image);
  t.equal(layout.table, undefined);
  t.equal(layout.volumes.length, 1);
  t.equal(layout.volumes[0].label, 'whole');
});

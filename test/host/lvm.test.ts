// LVM read by rdrescue (no device-mapper on this kernel, none needed for
// linear LVs): metadata against lvm's own report, and a RHEL layout (VG
// rhel: XFS root, /boot ext4) mounted, fixed and released while a clone of
// the same disk (same VG name, same PV UUID) is attached on the host.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openRange } from '../../src/host/byte-source.js';
import { readDiskLayout } from '../../src/host/block-devices.js';
import { logicalVolumes } from '../../src/host/lvm.js';
import { readPvMetadataText, volumeGroupOf } from '../../src/host/lvm-metadata.js';
import { rdrescue } from '../helpers/cli.js';
import { loopsOf, mountsUnder, rhelOnLvm, sh, sha256, withMounted, withRange } from './disk.js';

const env = { ...process.env, LVM_SUPPRESS_FD_WARNINGS: '1' };
const lvm = (args: string[]) => execFileSync('lvm', args, { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'ignore'] }).trim();

t.test('VG metadata as lvm itself reports it: LV names, PV ranges, byte offsets', async (t) => {
  const { d, lvs } = rhelOnLvm();
  t.teardown(() => d.cleanup());
  const layout = readDiskLayout(d.image);
  const pv = layout.volumes[1];
  t.equal(pv.type, 'LVM2_member');
  const r = openRange(d.image, pv.range);
  const vg = volumeGroupOf(readPvMetadataText(r)!)!;
  r.close();
  t.equal(vg.name, 'rhel');
  const oracle = withRange(d.image, d.parts[1], (loop) => lvm(['lvs', '--devices', loop, '--noheadings', '--segments', '-o', 'lv_name,seg_pe_ranges', 'rhel']));
  t.same(
    vg.lvs.map((l) => l.name).sort(),
    oracle.split('\n').map((l) => l.trim().split(/\s+/)[0]).sort(),
  );
  const found = logicalVolumes(layout.volumes);
  t.same(found.notes, []);
  t.same(found.volumes.map((v) => [v.lv, v.range.offset, v.range.size, v.type]), [
    ['rhel/root', lvs[0].offset, lvs[0].size, 'xfs'],
    ['rhel/swap', lvs[1].offset, lvs[1].size, 'swap'],
  ]);
  t.same(found.volumes[0].aliases, ['/dev/mapper/rhel-root', '/dev/rhel/root']);
});

t.test('an LV in several pieces (extended later) is reported, not guessed', async (t) => {
  const text = `vg0 {\nextent_size = 8192\nphysical_volumes {\npv0 {\nid = "abc"\npe_start = 2048\n}\n}\nlogical_volumes {\ndata {\nstatus = ["READ", "WRITE", "VISIBLE"]\nsegment1 {\nstart_extent = 0\nextent_count = 2\ntype = "striped"\nstripe_count = 1\nstripes = [\n"pv0", 0\n]\n}\nsegment2 {\nstart_extent = 2\nextent_count = 3\ntype = "striped"\nstripe_count = 1\nstripes = [\n"pv0", 7\n]\n}\n}\nthin {\nstatus = ["READ", "VISIBLE"]\nsegment1 {\nstart_extent = 0\nextent_count = 1\ntype = "thin"\n}\n}\n}\n}\n`;
  const vg = volumeGroupOf(text)!;
  t.same(vg.lvs[0].pieces, [
    { pvId: 'abc', offset: 2048 * 512, size: 2 * 8192 * 512 },
    { pvId: 'abc', offset: 2048 * 512 + 7 * 8192 * 512, size: 3 * 8192 * 512 },
  ]);
  t.equal(vg.lvs[1].unsupported, 'a thin segment');
});

t.test('RHEL on LVM beside its clone on the host (VG rhel, same PV UUID): mount, passwd, umount; the VG keeps its name', async (t) => {
  const { d, lvs } = rhelOnLvm();
  t.teardown(() => d.cleanup());
  // the rescue VM made from the same image: its disk is attached on the host too
  const clone = join(d.dir, 'clone.img');
  copyFileSync(d.image, clone);
  const cloneLoop = sh('losetup', ['-f', '--show', '-r', '-o', String(d.parts[1].offset), '--sizelimit', String(d.parts[1].size), clone]);
  t.teardown(() => sh('losetup', ['-d', cloneLoop]));
  const dir = mkdtempSync(join(tmpdir(), 'rdrescue-at-'));
  const at = join(dir, 'root');
  t.teardown(() => {
    rdrescue(['umount', at]);
    rmSync(dir, { recursive: true, force: true });
  });
  const before = sha256(d.image);
  const m = rdrescue(['mount', d.image, '--at', at]);
  t.equal(m.status, 0, m.stderr);
  t.match(m.stdout, /mounted Red Hat Enterprise Linux 9 from .*\n  \/ +\/dev\/loop\d+ +xfs +ro\n  \/boot +\/dev\/loop\d+ +ext4 +ro\n/);
  t.ok(existsSync(join(at, 'boot/vmlinuz-5.14')));
  t.equal(rdrescue(['umount', at]).status, 0);
  t.equal(sha256(d.image), before, 'no byte changed, metadata included');
  t.equal(rdrescue(['mount', d.image, '--at', at]).status, 0);
  const p = rdrescue(['passwd', 'root', '--root', at, '--password-stdin'], { input: 'lvm-rescued\n' });
  t.equal(p.status, 0, p.stderr);
  t.equal(rdrescue(['umount', at]).status, 0);
  t.same(loopsOf(d.image), []);
  t.same(mountsUnder(at), []);
  const hash = withMounted(d.image, lvs[0], (mnt) => execFileSync('grep', ['^root:', join(mnt, 'etc/shadow')], { encoding: 'utf8' }), ['ro', 'nouuid']);
  t.match(hash, /^root:\$6\$/);
  const vgName = withRange(d.image, d.parts[1], (loop) => lvm(['pvs', '--devices', loop, '--noheadings', '-o', 'vg_name', loop]));
  t.equal(vgName, 'rhel', 'the VG is still called rhel on the disk');
});

import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from './cache.js';
import { run } from './run.js';

export const HOOKS_DIR = join(REPO, 'initramfs-hooks');

export interface BuildOptions {
  /** Build with rdrescue's hook, taking the executable from here (the hook finds it through RDRESCUE_EXE). */
  hookExe?: string;
  /** The systemd flavour (Fedora, RHEL): systemd runs the initrd, and its emergency shell is behind sulogin. */
  systemd?: boolean;
  /** RDRESCUE_MODE=full in the generator's own configuration (dracut.conf.d, initramfs-tools conf.d); the hooks default to thin. */
  full?: boolean;
  /** More dracut modules, kernel drivers, programs and files ([host path, path in the image]). */
  modules?: string[];
  drivers?: string[];
  install?: string[];
  include?: Array<[string, string]>;
}

/**
 * Upstream dracut, by default without systemd: its emergency shell is a
 * plain `sh -i -l` on the console. With `systemd`, the emergency shell is
 * systemd's, behind sulogin ("Press Enter for maintenance").
 */
export function buildDracut(kver: string, out: string, opts: BuildOptions = {}): void {
  const args = ['--force', '--quiet', '--no-hostonly', '--no-hostonly-cmdline', '--kver', kver,
    '-m', `${opts.systemd ? 'systemd systemd-initrd dracut-systemd ' : ''}base rootfs-block kernel-modules${opts.hookExe ? ' rdrescue' : ''}${(opts.modules ?? []).map((m) => ` ${m}`).join('')}`,
    '--drivers', ['virtio_blk virtio_pci ext4', ...(opts.drivers ?? [])].join(' '), '--no-compress', '--no-early-microcode',
    ...(opts.install?.length ? ['--install', opts.install.join(' ')] : []),
    ...(opts.include ?? []).flatMap(([src, dst]) => ['--include', src, dst])];
  if (!opts.hookExe) {
    run('dracut', [...args, out]);
    return;
  }
  // dracut only looks for modules under $dracutbasedir/modules.d: a private
  // copy of that layout (symlinks) lets the test add the module without
  // touching the host's /usr/lib/dracut.
  const base = mkdtempSync(join(tmpdir(), 'rdrescue-dracutbase-'));
  try {
    for (const e of readdirSync('/usr/lib/dracut')) {
      if (e !== 'modules.d') symlinkSync(join('/usr/lib/dracut', e), join(base, e));
    }
    mkdirSync(join(base, 'modules.d'));
    for (const m of readdirSync('/usr/lib/dracut/modules.d')) symlinkSync(join('/usr/lib/dracut/modules.d', m), join(base, 'modules.d', m));
    symlinkSync(join(HOOKS_DIR, 'dracut', '95rdrescue'), join(base, 'modules.d', '95rdrescue'));
    // Where a user would put it: a file in dracut.conf.d (a private one here: --confdir).
    mkdirSync(join(base, 'conf.d'));
    if (opts.full) writeFileSync(join(base, 'conf.d', 'rdrescue.conf'), 'RDRESCUE_MODE=full\n');
    run('dracut', [...args, '--confdir', join(base, 'conf.d'), out], { env: { ...process.env, dracutbasedir: base, RDRESCUE_EXE: opts.hookExe } });
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

/**
 * initramfs-tools with a private CONFDIR: MODULES=list keeps the image small
 * and independent of this host's hardware; virtio and ext4 are what the VM needs.
 */
export function buildInitramfsTools(kver: string, out: string, opts: BuildOptions = {}): void {
  const conf = mkdtempSync(join(tmpdir(), 'rdrescue-itconf-'));
  try {
    cpSync('/etc/initramfs-tools', conf, { recursive: true });
    const cfgPath = join(conf, 'initramfs.conf');
    const cfg = readFileSync(cfgPath, 'utf8').replace(/^MODULES=.*$/m, 'MODULES=list');
    writeFileSync(cfgPath, cfg);
    writeFileSync(join(conf, 'modules'), 'virtio_pci\nvirtio_blk\next4\n');
    // The host's own hooks (e.g. cryptsetup) stay out: the image must depend only on what this test installs.
    rmSync(join(conf, 'hooks'), { recursive: true, force: true });
    mkdirSync(join(conf, 'hooks'));
    if (opts.hookExe) {
      cpSync(join(HOOKS_DIR, 'initramfs-tools', 'hooks', 'rdrescue'), join(conf, 'hooks', 'rdrescue'));
      mkdirSync(join(conf, 'scripts', 'init-bottom'), { recursive: true });
      cpSync(join(HOOKS_DIR, 'initramfs-tools', 'scripts', 'init-bottom', 'rdrescue-runbook'), join(conf, 'scripts', 'init-bottom', 'rdrescue-runbook'));
      if (opts.full) writeFileSync(join(conf, 'conf.d', 'rdrescue'), 'RDRESCUE_MODE=full\n');
    }
    const env = { ...process.env, ...(opts.hookExe ? { RDRESCUE_EXE: opts.hookExe } : {}) };
    run('mkinitramfs', ['-d', conf, '-o', out, kver], { env });
  } finally {
    rmSync(conf, { recursive: true, force: true });
  }
}

import type { Generator } from './generator.js';

/** What a rebuild has to add or change. */
export interface FixNeed {
  /** Kernel modules to include. */
  drivers?: string[];
  /** A compression the kernel can unpack. */
  compress?: string;
  /** Storage support: the package that brings the tools and the generator's module or hook for it. */
  storage?: 'lvm' | 'luks' | 'md';
}

const DEBIAN_PACKAGE = { lvm: 'lvm2', luks: 'cryptsetup-initramfs', md: 'mdadm' };
const DRACUT_MODULE = { lvm: 'lvm', luks: 'crypt', md: 'mdraid' };
const MKINITCPIO_HOOK = { lvm: 'lvm2', luks: 'encrypt', md: 'mdadm_udev' };

/**
 * The command that rebuilds the image with what is missing, in the
 * generator's own terms; for an image of unknown origin, dracut's and
 * initramfs-tools' forms both.
 */
export function fixCommand(generator: Generator | undefined, version: string | undefined, image: string, need: FixNeed = {}): string {
  const v = version ?? '$(uname -r)';
  const dracut = () => {
    const args = ['dracut', '-f', '--kver', v];
    if (need.drivers?.length) args.push('--add-drivers', `"${need.drivers.join(' ')}"`);
    if (need.compress) args.push('--compress', need.compress);
    if (need.storage) args.push('--add', DRACUT_MODULE[need.storage]);
    return [...args, image].join(' ');
  };
  const debian = () => {
    const steps: string[] = [];
    if (need.drivers?.length) steps.push(`add ${need.drivers.join(', ')} to /etc/initramfs-tools/modules`);
    if (need.compress) steps.push(`set COMPRESS=${need.compress} in /etc/initramfs-tools/initramfs.conf`);
    if (need.storage) steps.push(`apt-get install ${DEBIAN_PACKAGE[need.storage]}`);
    return [...steps, `update-initramfs -u -k ${v}`].join(', then ');
  };
  const arch = () => {
    const steps: string[] = [];
    if (need.drivers?.length) steps.push(`add ${need.drivers.join(' ')} to MODULES in /etc/mkinitcpio.conf`);
    if (need.compress) steps.push(`set COMPRESSION="${need.compress}" in /etc/mkinitcpio.conf`);
    if (need.storage) steps.push(`add the ${MKINITCPIO_HOOK[need.storage]} hook to HOOKS in /etc/mkinitcpio.conf`);
    return [...steps, `mkinitcpio -k ${v} -g ${image}`].join(', then ');
  };
  if (generator === 'dracut') return dracut();
  if (generator === 'initramfs-tools') return debian();
  if (generator === 'mkinitcpio') return arch();
  return `${dracut()} (dracut) or ${debian()} (initramfs-tools)`;
}

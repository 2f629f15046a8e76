import { existsSync, statSync } from 'node:fs';
import { RdError, EXIT } from '../errors.js';
import { resolveInRoot } from '../rescue/target.js';
import { imageClosure } from './elf-closure.js';
import { kernelFromFile, kernelOfUki } from './kernel-file.js';
import { imageGenerator } from './generator.js';
import { readImageFacts } from './image-facts.js';
import { chooseImage, previousImage } from './image-choice.js';
import { kernelFacts } from './kernel.js';
import { rootNeeds } from './target-needs.js';
import type { CheckContext, Finding, Rule } from './findings.js';
import { imageUnreadable } from './rules/image-unreadable.js';
import { compressionUnsupported } from './rules/compression.js';
import { xzCheckUnsupported } from './rules/xz-check.js';
import { initMissing } from './rules/init.js';
import { initInterpreterMissing } from './rules/init-interpreter.js';
import { libraryMissing } from './rules/library-missing.js';
import { kernelModulesMissing } from './rules/kernel-modules.js';
import { rootFsDriverMissing } from './rules/root-fs-driver.js';
import { lvmMissing } from './rules/lvm.js';
import { luksMissing } from './rules/luks.js';
import { mdToolsMissing } from './rules/md.js';
import { blockDriverMissing } from './rules/block-driver.js';
import { microcodeNotEarly } from './rules/microcode.js';
import { fsckMissing } from './rules/fsck.js';
import { imageShrank } from './rules/image-size.js';
import { bootSpaceLow } from './rules/boot-space.js';

export interface CheckOptions {
  /** The image; default: the running kernel's, or under `root` the newest in ROOT/boot. */
  image?: string;
  /** The kernel: a version, or a bzImage file (VMLINUZ) whose setup header gives it (default: a UKI's own .linux, else the image's name, else its lib/modules). */
  kernel?: string;
  /** The target root whose fstab, crypttab, command line and /boot describe what the root needs (default "/"). */
  root?: string;
}

/** The verdict: `ok` is false when any finding is an error. */
export interface CheckReport {
  ok: boolean;
  image: string;
  kernel: string | null;
  root: string;
  findings: Finding[];
  /** How image, kernel, configuration and root were found, and what could not be judged. */
  notes: string[];
}

/**
 * Will this image boot this kernel and this root? Reads the image once,
 * the kernel's configuration and module lists, and the target's fstab,
 * crypttab and command lines, then runs every rule.
 */
export async function checkImage(opts: CheckOptions = {}): Promise<CheckReport> {
  const root = opts.root ?? '/';
  if (!statSync(root, { throwIfNoEntry: false })?.isDirectory()) throw new RdError('the root is not a directory', { file: root }, EXIT.usage);
  const notes: string[] = [];
  let image = opts.image;
  if (!image) {
    const c = chooseImage(opts.root);
    image = c.path;
    notes.push(`image: ${c.rule}`);
  }
  if (!existsSync(image)) throw new RdError('no such image', { file: image }, EXIT.badInput);
  if (!statSync(image).isFile()) throw new RdError('not a regular file', { file: image }, EXIT.badInput);
  // A kernel file (--kernel VMLINUZ, or the .linux of a UKI given as IMAGE) says its own version, and may carry its configuration.
  const looksLikeFile = opts.kernel !== undefined && (opts.kernel.includes('/') || existsSync(opts.kernel));
  const kfile = looksLikeFile ? await kernelFromFile(opts.kernel!) : opts.kernel ? undefined : kernelOfUki(image);
  const version = kfile?.version ?? opts.kernel;
  const embedded = kfile && version && !existsSync(resolveInRoot(root, `boot/config-${version}`)) ? await kfile.config() : undefined;
  const facts = await readImageFacts(image);
  try {
    const kernel = kernelFacts(facts, { kernel: version, kernelFrom: kfile?.versionFrom, embeddedConfig: embedded, image, root });
    if (kernel.version) notes.push(`kernel: ${kernel.version}, from ${kernel.versionFrom}`);
    else notes.push("kernel: unknown (give --kernel VERSION: the image's name has none and it has no single lib/modules/VERSION); module checks skipped");
    const noIkconfig = kfile ? ` and the kernel has no embedded configuration (IKCONFIG)` : '';
    if (kernel.version) notes.push(kernel.configFrom ? `kernel configuration: ${kernel.configFrom}` : `kernel configuration: none at ${root.replace(/\/$/, '')}/boot/config-${kernel.version}${noIkconfig}; CONFIG_RD_* not checked`);
    if (kernel.builtinFrom) notes.push(`built-in modules: ${kernel.builtinFrom}`);
    const needs = rootNeeds(root, { version: kernel.version });
    notes.push(needs.fsType ? `root filesystem: ${needs.fsType} on ${needs.device ?? 'an unnamed device'}, from ${needs.from}` : `root filesystem: unknown (no / in ${root.replace(/\/$/, '')}/etc/fstab, no root=/rootfstype= on a known command line); its driver is not checked`);
    for (const why of [needs.lvm, needs.luks, needs.md]) if (why) notes.push(`root needs: ${why}`);
    const ctx: CheckContext = { image, facts, kernel, needs, generator: imageGenerator(facts), previous: previousImage(image) };
    const rules: Rule[] = [
      imageUnreadable,
      compressionUnsupported,
      xzCheckUnsupported,
      initMissing,
      initInterpreterMissing,
      libraryMissing(imageClosure(facts)),
      kernelModulesMissing,
      rootFsDriverMissing,
      lvmMissing,
      luksMissing,
      mdToolsMissing,
      blockDriverMissing,
      microcodeNotEarly,
      fsckMissing,
      imageShrank,
      bootSpaceLow,
    ];
    const findings = rules.flatMap((r) => r(ctx));
    return { ok: !findings.some((f) => f.level === 'error'), image, kernel: kernel.version ?? null, root, findings, notes };
  } finally {
    facts.dispose();
  }
}

import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { resolveInRoot } from '../rescue/target.js';
import { resolveInView, type ImageFacts } from './image-facts.js';

/** What `check` knows about the kernel that will boot the image, and where each fact came from. */
export interface KernelFacts {
  version?: string;
  /** How the version was found: "--kernel", "the image's name", "the image's lib/modules". */
  versionFrom?: string;
  /** CONFIG_* symbols and their values (y, m, "…"); undefined when no configuration was found. */
  config?: Map<string, string>;
  configFrom?: string;
  /** Names of the modules built into the kernel (normalised: "-" as "_"). */
  builtin?: Set<string>;
  builtinFrom?: string;
  /** modules.dep: module path (relative to lib/modules/VERSION) to the paths it depends on. */
  deps?: Map<string, string[]>;
  depsFrom?: string;
}

/** The module name of a path in modules.dep (kernel/fs/ext4/ext4.ko.xz -> ext4), as modprobe compares them: "-" and "_" alike. */
export function moduleName(path: string): string {
  return basename(path).replace(/\.ko(\.\w+)?$/, '').replace(/-/g, '_');
}

/** The kernel version in a distribution's image name (initrd.img-6.1.0-57-amd64, initramfs-5.14.0-427.el9.x86_64.img, initrd-6.4.0-default). */
export function versionFromImageName(image: string): string | undefined {
  const m = /^(?:initrd\.img|initramfs|initrd)-(\d.*?)(?:\.img)?$/.exec(basename(image));
  return m?.[1];
}

/** Kernel versions the image has modules for (its lib/modules/* directories). */
export function imageKernelVersions(facts: ImageFacts): string[] {
  const out = new Set<string>();
  for (const [p, e] of facts.entries) {
    const m = /^(?:usr\/)?lib\/modules\/([^/]+)$/.exec(p);
    if (m && e.type === 'dir') out.add(m[1]);
  }
  return [...out].sort();
}

export function parseKernelConfig(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/^(CONFIG_\w+)=(.*)$/gm)) out.set(m[1], m[2].replace(/^"(.*)"$/, '$1'));
  return out;
}

export function parseModulesDep(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out.set(line.slice(0, i), line.slice(i + 1).trim().split(/\s+/).filter(Boolean));
  }
  return out;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** A text file of lib/modules/VERSION in the image (lib or usr/lib, through the image's own symlinks). */
export function imageModulesText(facts: ImageFacts, version: string, file: string): { path: string; text: string } | undefined {
  const dir = resolveInView(facts.entries, `lib/modules/${version}`) ?? resolveInView(facts.entries, `usr/lib/modules/${version}`);
  if (!dir) return undefined;
  const path = `${dir.path}/${file}`;
  const text = facts.texts.get(path);
  return text === undefined ? undefined : { path: '/' + path, text };
}

export interface KernelOptions {
  /** The version from --kernel (or from the kernel file given there, or a UKI's). */
  kernel?: string;
  /** Where that version came from, when not typed as --kernel VERSION. */
  kernelFrom?: string;
  /** The kernel's own embedded configuration (IKCONFIG), used when the root has no /boot/config-VERSION. */
  embeddedConfig?: { text: string; from: string };
  image: string;
  /** The target root whose /boot/config-VERSION and lib/modules/VERSION describe the kernel. */
  root: string;
}

/**
 * The kernel's version from --kernel, else the image's name, else the
 * image's only lib/modules directory; its configuration from
 * ROOT/boot/config-VERSION, else the kernel's embedded one; its built-in modules and modules.dep from
 * ROOT/lib/modules/VERSION, else from the copies in the image.
 */
export function kernelFacts(facts: ImageFacts, opts: KernelOptions): KernelFacts {
  const k: KernelFacts = {};
  const inImage = imageKernelVersions(facts);
  if (opts.kernel) [k.version, k.versionFrom] = [opts.kernel, opts.kernelFrom ?? '--kernel'];
  else if (versionFromImageName(opts.image)) [k.version, k.versionFrom] = [versionFromImageName(opts.image), "the image's name"];
  else if (inImage.length === 1) [k.version, k.versionFrom] = [inImage[0], `the image's /lib/modules/${inImage[0]}`];
  if (!k.version) return k;
  const config = resolveInRoot(opts.root, `boot/config-${k.version}`);
  const configText = readText(config);
  if (configText !== undefined) [k.config, k.configFrom] = [parseKernelConfig(configText), config];
  else if (opts.embeddedConfig) [k.config, k.configFrom] = [parseKernelConfig(opts.embeddedConfig.text), opts.embeddedConfig.from];
  const rootDir = resolveInRoot(opts.root, `lib/modules/${k.version}`);
  const builtinText = readText(`${rootDir}/modules.builtin`);
  const fromImage = imageModulesText(facts, k.version, 'modules.builtin');
  if (builtinText !== undefined) [k.builtin, k.builtinFrom] = [new Set(builtinText.split('\n').filter(Boolean).map(moduleName)), `${rootDir}/modules.builtin`];
  else if (fromImage) [k.builtin, k.builtinFrom] = [new Set(fromImage.text.split('\n').filter(Boolean).map(moduleName)), `${fromImage.path} in the image`];
  // The root's modules.dep lists every module of the kernel; the image's copy only those the generator took.
  const depRoot = readText(`${rootDir}/modules.dep`);
  const depImage = imageModulesText(facts, k.version, 'modules.dep');
  if (depRoot !== undefined || depImage) {
    k.deps = new Map([...parseModulesDep(depImage?.text ?? ''), ...parseModulesDep(depRoot ?? '')]);
    k.depsFrom = depRoot !== undefined ? `${rootDir}/modules.dep` : `${depImage!.path} in the image`;
  }
  return k;
}

/** Whether the kernel loads modules at all: CONFIG_MODULES, or a modules.dep/modules.builtin when there is no configuration. */
export function isModular(k: KernelFacts): boolean | undefined {
  if (k.config) return k.config.get('CONFIG_MODULES') === 'y';
  if (k.deps || k.builtin) return true;
  return undefined;
}

/** A module is built in when modules.builtin lists it. */
export function isBuiltin(k: KernelFacts, name: string): boolean {
  return k.builtin?.has(name.replace(/-/g, '_')) ?? false;
}

/** The module names present in the image for this kernel version. */
export function imageModules(facts: ImageFacts, version: string): Set<string> {
  const out = new Set<string>();
  const dir = resolveInView(facts.entries, `lib/modules/${version}`) ?? resolveInView(facts.entries, `usr/lib/modules/${version}`);
  if (!dir) return out;
  const prefix = dir.path + '/';
  for (const [p, e] of facts.entries) if (e.type === 'file' && p.startsWith(prefix) && /\.ko(\.\w+)?$/.test(p)) out.add(moduleName(p));
  return out;
}

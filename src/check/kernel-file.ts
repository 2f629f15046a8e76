import { closeSync, openSync, readSync } from 'node:fs';
import { decompressVmlinux, parseBzImageHeader, readKernelFile } from '../kernel/bzimage.js';
import { embeddedConfig } from '../kernel/ikconfig.js';
import { readPe, startsWithMz } from '../image/pe.js';
import { isUki, profileSections, sectionBytes, sectionText, uki } from '../image/uki.js';

/** A kernel given as a file (--kernel VMLINUZ, or a UKI's .linux): its release and, read only when asked, its embedded configuration. */
export interface KernelFile {
  version?: string;
  versionFrom: string;
  config(): Promise<{ text: string; from: string } | undefined>;
}

function fromBzImage(bytes: Buffer, file: string, label: string): KernelFile {
  const h = parseBzImageHeader(bytes, file);
  return {
    version: h.release,
    versionFrom: `the kernel_version string of ${label}'s setup header`,
    async config() {
      const text = embeddedConfig(await decompressVmlinux(bytes, h), file);
      return text === undefined ? undefined : { text, from: `${label} (IKCONFIG)` };
    },
  };
}

/** --kernel FILE: a bzImage. */
export async function kernelFromFile(path: string): Promise<KernelFile> {
  return fromBzImage(await readKernelFile(path), path, path);
}

/** A UKI given as IMAGE boots its own .linux: its .uname, else the version in that kernel's setup header. Undefined for anything but a UKI. */
export function kernelOfUki(path: string): KernelFile | undefined {
  const head = Buffer.alloc(2);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 2, 0);
  } finally {
    closeSync(fd);
  }
  if (!startsWithMz(head)) return undefined;
  const pe = readPe(path);
  if (!isUki(pe)) return undefined;
  const sections = profileSections(uki(pe));
  const linux = sections.get('.linux');
  const uname = sections.get('.uname');
  const kernel = linux ? fromBzImage(sectionBytes(path, linux), path, `${path} .linux`) : undefined;
  if (uname) return { version: sectionText(path, uname).trim(), versionFrom: `the UKI's .uname`, config: kernel?.config ?? (async () => undefined) };
  return kernel;
}

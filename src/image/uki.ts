/**
 * A unified kernel image as systemd-stub sees it: which sections boot with
 * which profile, and what the stub hands the kernel as its initrd.
 *
 * Profiles (systemd 257, src/boot/pe.c): the base profile is the section
 * table up to the first `.profile` section; profile N runs from the N-th
 * `.profile` section to the next one. In each range the first section of a
 * name wins, and the chosen profile's sections override the base ones.
 * Profile 0 is the default; a UKI without `.profile` sections has only the
 * implied profile 0, its base.
 */
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { RdError, EXIT } from '../errors.js';
import { readPe, type PeFile, type PeSection } from './pe.js';

export interface UkiProfile {
  index: number;
  /** The `.profile` section's text (ID=..., TITLE=...). */
  text: string;
  sections: PeSection[];
}

export interface Uki {
  pe: PeFile;
  /** Sections before the first `.profile`. */
  base: PeSection[];
  profiles: UkiProfile[];
}

/** Sections the stub looks for; one of the kernel's or the initrd's makes a PE file a UKI. */
export const UKI_MARKERS = ['.linux', '.initrd', '.ucode'];

export function isUki(pe: PeFile): boolean {
  return pe.sections.some((s) => UKI_MARKERS.includes(s.name));
}

export function sectionBytes(file: string, s: PeSection): Buffer {
  const b = Buffer.alloc(s.fileSize);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, b, 0, s.fileSize, s.rawOffset);
  } finally {
    closeSync(fd);
  }
  return b;
}

/** A text section (.cmdline, .uname, .osrel, .profile) as the stub reads it: up to the first NUL. */
export function sectionText(file: string, s: PeSection): string {
  const b = sectionBytes(file, s);
  const nul = b.indexOf(0);
  return b.toString('utf8', 0, nul < 0 ? b.length : nul);
}

export function uki(pe: PeFile): Uki {
  const firstProfile = pe.sections.findIndex((s) => s.name === '.profile');
  const base = firstProfile < 0 ? pe.sections : pe.sections.slice(0, firstProfile);
  const profiles: UkiProfile[] = [];
  for (const s of pe.sections) {
    if (s.name === '.profile') profiles.push({ index: profiles.length, text: sectionText(pe.file, s).trim(), sections: [s] });
    else if (profiles.length) profiles[profiles.length - 1]!.sections.push(s);
  }
  return { pe, base, profiles };
}

/** The sections that boot with a profile: the base ones, overridden by the profile's own. */
export function profileSections(u: Uki, profile = 0): Map<string, PeSection> {
  const chosen = new Map<string, PeSection>();
  const take = (list: PeSection[], override: boolean) => {
    const seen = new Set<string>();
    for (const s of list) {
      if (seen.has(s.name)) continue;
      seen.add(s.name);
      if (override || !chosen.has(s.name)) chosen.set(s.name, s);
    }
  };
  take(u.base, false);
  const p = u.profiles[profile];
  if (p) take(p.sections, true);
  else if (profile !== 0) {
    const have = u.profiles.length ? `profiles 0-${u.profiles.length - 1}` : 'no .profile sections (only the implied profile 0)';
    throw new RdError(`no profile ${profile}: the UKI has ${have}`, { file: u.pe.file }, EXIT.usage);
  }
  chosen.delete('.profile');
  return chosen;
}

export interface Addon {
  file: string;
  pe: PeFile;
  /** Why the stub would not load it, when it would not. */
  skipped?: string;
}

/**
 * The addons systemd-stub loads for a UKI: the ESP-wide `loader/addons/`
 * first, then the UKI's own `<uki>.extra.d/`, each sorted by name. With
 * `dir`, only that directory. An addon whose `.uname` names another kernel
 * is skipped, as the stub skips it.
 */
export function findAddons(ukiPath: string, uname: string | undefined, dir?: string): Addon[] {
  const dirs: string[] = [];
  if (dir !== undefined) {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new RdError('--addons: not a directory', { file: dir }, EXIT.usage);
    dirs.push(dir);
  } else {
    // <ESP>/EFI/Linux/x.efi: the ESP root holds loader/addons/.
    const linuxDir = dirname(ukiPath);
    if (basename(linuxDir).toLowerCase() === 'linux' && basename(dirname(linuxDir)).toLowerCase() === 'efi') dirs.push(join(dirname(dirname(linuxDir)), 'loader', 'addons'));
    dirs.push(`${ukiPath}.extra.d`);
  }
  const addons: Addon[] = [];
  for (const d of dirs) {
    let names: string[];
    try {
      names = readdirSync(d).filter((n) => n.toLowerCase().endsWith('.addon.efi')).sort();
    } catch {
      continue;
    }
    for (const n of names) {
      const file = join(d, n);
      const pe = readPe(file);
      const a: Addon = { file, pe };
      const un = pe.sections.find((s) => s.name === '.uname');
      if (un && uname !== undefined && sectionText(file, un).trim() !== uname) a.skipped = `its .uname ${JSON.stringify(sectionText(file, un).trim())} is not the UKI's ${JSON.stringify(uname)}`;
      if (pe.sections.some((s) => s.name === '.linux')) a.skipped = 'it has a .linux section, which the stub refuses in an addon';
      addons.push(a);
    }
  }
  return addons;
}

/** os-release's PRETTY_NAME (or NAME) from an .osrel section's text. */
export function prettyName(osrel: string): string | undefined {
  const m = /^PRETTY_NAME=(.*)$/m.exec(osrel) ?? /^NAME=(.*)$/m.exec(osrel);
  return m?.[1]?.trim().replace(/^(["'])(.*)\1$/, '$2');
}

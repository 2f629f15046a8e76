import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** systemd-boot's stub (Debian package systemd-boot-efi). */
export const STUB = '/usr/lib/systemd/boot/efi/linuxx64.efi.stub';

/**
 * A real UKI as the systemd documentation and the Arch wiki build one without
 * ukify: objcopy appends each section to the stub at a page-aligned address
 * past the stub's own. Sections are added in the order given; names may
 * repeat (multi-profile UKIs repeat .profile, .cmdline, .initrd), so each is
 * added under a unique name and renamed afterwards.
 */
export function buildUki(out: string, sections: Array<[name: string, file: string]>, stub = STUB): void {
  let vma = 0;
  for (const line of execFileSync('objdump', ['-h', stub]).toString().split('\n')) {
    const m = /^\s*\d+\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)/.exec(line);
    if (m) vma = Math.max(vma, parseInt(m[2]!, 16) + parseInt(m[1]!, 16));
  }
  const add: string[] = [];
  const rename: string[] = [];
  sections.forEach(([name, file], i) => {
    vma = Math.ceil(vma / 0x1000) * 0x1000;
    const tmp = `.u${i}`;
    add.push('--add-section', `${tmp}=${file}`, '--change-section-vma', `${tmp}=0x${vma.toString(16)}`, '--set-section-flags', `${tmp}=data,readonly`);
    rename.push('--rename-section', `${tmp}=${name}`);
    vma += Number(execFileSync('stat', ['-c', '%s', file]).toString());
  });
  execFileSync('objcopy', [...add, stub, `${out}.tmp`]);
  execFileSync('objcopy', [...rename, `${out}.tmp`, out]);
  execFileSync('rm', ['-f', `${out}.tmp`]);
}

/** A scratch directory, and `file(name, data)` that writes a file into it and returns its path. */
export function scratch(prefix: string): { work: string; file: (name: string, data: string | Buffer) => string } {
  const work = mkdtempSync(join(tmpdir(), prefix));
  return {
    work,
    file: (name, data) => {
      const p = join(work, name);
      writeFileSync(p, data);
      return p;
    },
  };
}

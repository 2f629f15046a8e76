/**
 * Writing stops at a UKI or a kernel image. Appending to one would break the
 * PE file; changing its .initrd breaks the Secure Boot signature and the TPM
 * policy signed in .pcrsig. The refusal says how to go on instead.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { RdError, EXIT } from '../errors.js';
import { isBzImage } from '../kernel/bzimage.js';
import { readPe, startsWithMz } from './pe.js';
import { isUki } from './uki.js';

const WAY_FORWARD =
  'rebuild the UKI with ukify (ukify build --linux=... --initrd=NEW.img), ' +
  'or put extra files in an addon (ukify build --initrd=extra.cpio --output=UKI.efi.extra.d/extra.addon.efi), ' +
  'or work on its initrd (rdrescue extract UKI.efi DIR, then repack); ' +
  'a UKI not booted through Secure Boot can be rewritten unsigned by add and inject with --unsigned-ok';

function head(path: string): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return Buffer.alloc(0); // a missing file is for the writer to report
  }
  try {
    const b = Buffer.alloc(0x210);
    return b.subarray(0, readSync(fd, b, 0, b.length, 0));
  } finally {
    closeSync(fd);
  }
}

/** True for a readable PE file with the sections of a UKI. */
export function isUkiFile(path: string): boolean {
  if (!startsWithMz(head(path))) return false;
  try {
    return isUki(readPe(path));
  } catch {
    return false; // a damaged PE: refused below like any other EFI file
  }
}

/**
 * Throws (exit 4) when `image` is a UKI, another EFI program or a kernel, or
 * when `out` would be one; with `unsignedOk`, a UKI as `image` may be written.
 */
export function refuseWritingUki(image: string | undefined, out: string, unsignedOk = false): void {
  if (unsignedOk && image !== undefined && isUkiFile(image)) return;
  for (const [file, role] of [[image, 'input'], [out, 'output']] as const) {
    if (file === undefined) continue;
    const h = head(file);
    if (isBzImage(h)) throw new RdError(`refusing to write into a kernel image: give its initramfs file instead`, { file }, EXIT.refused);
    if (startsWithMz(h) || (role === 'output' && /\.efi$/i.test(file))) {
      throw new RdError(`refusing to write a UKI: a changed .initrd breaks its Secure Boot signature and the TPM policy in .pcrsig; ${WAY_FORWARD}`, { file }, EXIT.refused);
    }
  }
}

// $PLATFORM as this machine's ld.so expands it.
import { readFileSync } from 'node:fs';

let x86_64: string | undefined;

/**
 * glibc does not take AT_PLATFORM as it is on x86-64: on an Intel CPU it
 * names the platform after the CPU's features (sysdeps/x86/cpu-features.c,
 * init_cpu_features): "xeon_phi" with AVX512CD+ER+PF, else "haswell" with
 * AVX2, FMA, BMI1, BMI2, LZCNT, MOVBE and POPCNT, else the kernel's
 * "x86_64". `ld.so --list-diagnostics` shows the answer as dl_platform.
 * The kernel clears a flag in /proc/cpuinfo that the OS cannot use, which
 * is what glibc's "usable" means here.
 */
function x86_64Platform(): string {
  if (x86_64 !== undefined) return x86_64;
  x86_64 = 'x86_64';
  let cpuinfo = '';
  try {
    cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return x86_64;
  }
  if (!/^vendor_id\s*:\s*GenuineIntel$/m.test(cpuinfo)) return x86_64;
  const flags = new Set(/^flags\s*:(.*)$/m.exec(cpuinfo)?.[1]?.trim().split(/\s+/) ?? []);
  const all = (...names: string[]) => names.every((n) => flags.has(n));
  // cpuinfo calls LZCNT "abm".
  if (all('avx512cd', 'avx512er', 'avx512pf')) x86_64 = 'xeon_phi';
  else if (all('avx2', 'fma', 'bmi1', 'bmi2', 'abm', 'movbe', 'popcnt')) x86_64 = 'haswell';
  return x86_64;
}

/** The $PLATFORM value for an ELF of this machine and class; undefined for an ABI whose value is unknown (path elements using it are dropped). */
export function platformFor(machine: number, elfClass: number): string | undefined {
  if (machine === 62 && elfClass === 64) return x86_64Platform();
  if (machine === 3 && elfClass === 32) return 'i686';
  if (machine === 183 && elfClass === 64) return 'aarch64';
  return undefined;
}

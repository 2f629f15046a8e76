import { FormatError } from '../errors.js';

/**
 * Salvage: damage that leaves the rest readable (a bad crc checksum) is
 * warned about where it is met, reading goes on, and the run still fails at
 * the end, so no script mistakes a damaged image for a good one.
 */
export class DamageLog {
  readonly found: FormatError[] = [];

  constructor(private readonly warn: (message: string) => void) {}

  readonly note = (err: FormatError): void => {
    this.found.push(err);
    this.warn(err.message);
  };

  /** Throws one summary error (exit 3) when anything was damaged. */
  check(file: string): void {
    const n = this.found.length;
    if (n) throw new FormatError(`${n} damaged ${n === 1 ? 'entry' : 'entries'} (warned above); everything else was read`, { file });
  }
}

import { writeSync } from 'node:fs';

/**
 * Crash-safety tests kill the writer between two steps. They set both
 * RDRESCUE_TEST=1 and RDRESCUE_TEST_PAUSE_AT=<step>; at that step the
 * process says so on stderr and blocks until it is killed. Without
 * RDRESCUE_TEST=1 the variable is ignored, so a stray environment setting
 * can never stall a real rescue.
 */
export function pausePoint(step: string): void {
  if (process.env.RDRESCUE_TEST !== '1' || process.env.RDRESCUE_TEST_PAUSE_AT !== step) return;
  writeSync(2, `rdrescue-test: paused at ${step}\n`);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
}

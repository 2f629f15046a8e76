import { CommanderError } from 'commander';
import { RdError, EXIT, systemCause } from './errors.js';
import { createProgram } from './commands/program.js';
import { takeLauncherEnvironment } from './exe/launcher-env.js';
import { startProgress, stopProgress } from './image/progress.js';

/**
 * The CLI is a thin layer: each file in commands/ parses options and calls the
 * library. Here we only turn failures into one line and an exit code.
 */
export async function main(argv: string[]): Promise<number> {
  takeLauncherEnvironment();
  const program = createProgram();
  // Progress is for a person watching a terminal; never for a log, a pipe or JSON.
  if (process.stderr.isTTY && !argv.includes('--json') && !argv.includes('--quiet')) startProgress(process.stderr);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    return reportError(err);
  }
}

export function reportError(err: unknown): number {
  if (err instanceof CommanderError) {
    // commander already printed help, version or the usage error
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
    return EXIT.usage;
  }
  if (process.env.RDRESCUE_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  if (err instanceof RdError) {
    process.stderr.write(`rdrescue: ${err.message}\n`);
    return err.exitCode;
  }
  const e = err as NodeJS.ErrnoException;
  const cause = systemCause(err);
  if (cause) {
    // A system error that escaped the library: still one line, naming the path, in words rather than Node's.
    const path = Buffer.isBuffer(e.path) ? (e.path as Buffer).toString() : e.path;
    process.stderr.write(`rdrescue: ${path ? `${path}: ` : ''}${cause}${e.syscall ? ` (${e.syscall})` : ''}\n`);
    return EXIT.failure;
  }
  if (e && typeof e === 'object' && typeof e.code === 'string' && typeof e.message === 'string') {
    process.stderr.write(`rdrescue: ${e.message}\n`);
    return EXIT.failure;
  }
  process.stderr.write(`rdrescue: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
  return EXIT.failure;
}

// EPIPE on stdout (`rdrescue ls | head`) is a normal way to stop.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
});

/**
 * Exits once stdout and stderr have taken everything written. Waiting instead
 * for the event loop to empty by itself (streams and the zlib thread pool
 * winding down) took about 30 ms after `ls` had printed its last line.
 */
function finish(code: number): void {
  stopProgress();
  process.exitCode = code;
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

main(process.argv.slice(2)).then(finish, (err) => finish(reportError(err)));

// Writes rdrescue(1) to the path given: run by scripts/build.mjs (bundled by esbuild first), so the man page
// is built from the same command definitions as --help.
import { writeFileSync } from 'node:fs';
import { createProgram } from '../src/commands/program.js';
import { manPage } from '../src/commands/man-page.js';
import { VERSION } from '../src/version.js';

writeFileSync(process.argv[2], manPage(createProgram(), VERSION));

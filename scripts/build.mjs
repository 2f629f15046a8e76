// Builds dist/rdrescue.cjs (esbuild bundle, runs on Node >= 20), the man page
// dist/rdrescue.1 and, unless --bundle-only, dist/rdrescue: a Node single
// executable application made from the Node 24 binary that `npm ci` installed
// (devDependency node24), so nothing is downloaded at build time.
import { build } from 'esbuild';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const root = join(dirname(new URL(import.meta.url).pathname), '..');
const dist = join(root, 'dist');
mkdirSync(dist, { recursive: true });

// rdxattr (src/native/xattr-helper.c): extended attributes and ACLs for the
// rescue commands, which Node cannot read or write. Freestanding (no libc),
// so the one binary runs in any initramfs of this architecture; the bundle
// carries it as base64 (~4 KiB), tests running from source use the file.
const helper = join(dist, `rdxattr-${process.arch}`);
let helperBuilt = true;
try {
  execFileSync('gcc', ['-static', '-nostdlib', '-Os', '-ffreestanding', '-fno-builtin', '-fno-stack-protector', '-fno-asynchronous-unwind-tables', '-fno-pie', '-no-pie', '-Wl,--build-id=none,-z,noseparate-code,-z,norelro', '-s', '-Wall', '-Werror', '-o', `${helper}.tmp`, join(root, 'src/native/xattr-helper.c')], { stdio: 'inherit' });
  renameSync(`${helper}.tmp`, helper);
} catch (e) {
  const why = `cannot compile src/native/xattr-helper.c with gcc (${e.message.split('\n')[0]}); without it rescue commands cannot keep labels and ACLs`;
  // The executable is what ships into initramfs images: never without the helper. The bundle that `npm install`
  // builds (prepare) still comes up, so a fresh clone on a machine without gcc can run `npx rdrescue info`.
  if (!process.argv.includes('--bundle-only')) {
    console.error(`build: ${why}`);
    process.exit(1);
  }
  console.error(`build: warning: ${why} (apt-get install gcc)`);
  helperBuilt = false;
}

const bundle = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  legalComments: 'none',
  // The example image `rdrescue info` shows on a machine with none (src/image/example-image.ts), carried inside the bundle
  // so the npm package, the single executable and the packages all have it.
  define: {
    RDRESCUE_EXAMPLE_IMAGE: JSON.stringify(readFileSync(join(root, 'fixtures/example-image.img')).toString('base64')),
    // rdxattr; only a run from source looks for dist/rdxattr-ARCH (through import.meta), the bundle has it inside
    __RDRESCUE_XATTR_HELPER__: helperBuilt ? JSON.stringify({ arch: process.arch, base64: readFileSync(helper).toString('base64') }) : 'undefined',
  },
  minifySyntax: true,
  logLevel: 'warning',
  // example-image.ts and xattrs.ts use import.meta only where their define is missing, never in the bundle.
  logOverride: { 'empty-import-meta': 'silent' },
};
await build({
  ...bundle,
  entryPoints: [join(root, 'src/cli.ts')],
  outfile: join(dist, `rdrescue.cjs.tmp-${process.pid}`),
  banner: { js: '#!/usr/bin/env node' },
});
chmodSync(join(dist, `rdrescue.cjs.tmp-${process.pid}`), 0o755);
// Renamed into place so tests running the bundle never read a half-written file.
renameSync(join(dist, `rdrescue.cjs.tmp-${process.pid}`), join(dist, 'rdrescue.cjs'));

// rdrescue(1), from the same command definitions as --help (scripts/man-page.ts).
const manScript = join(dist, `man-page.tmp-${process.pid}.cjs`);
await build({ ...bundle, entryPoints: [join(root, 'scripts/man-page.ts')], outfile: manScript });
execFileSync(process.execPath, [manScript, join(dist, `rdrescue.1.tmp-${process.pid}`)], { stdio: 'inherit' });
rmSync(manScript);
renameSync(join(dist, `rdrescue.1.tmp-${process.pid}`), join(dist, 'rdrescue.1'));

if (!process.argv.includes('--bundle-only')) {
  const require = createRequire(import.meta.url);
  const node24 = join(dirname(require.resolve('node24/package.json')), 'bin', 'node');
  const blob = join(dist, `sea-prep.blob.${process.pid}`);
  const cfg = join(dist, `sea-config.${process.pid}.json`);
  // A code cache made after running commands (scripts/sea-main.cjs says why): ls of the 146 MB
  // uncompressed image 3 ms less CPU, of the Ubuntu-style image 15 ms, of the zstd image 30 ms.
  const cache = join(dist, `code-cache.${process.pid}`);
  const warm = mkdtempSync(join(tmpdir(), 'rdrescue-warm-up-'));
  try {
    const images = warmUpImages(node24, warm);
    execFileSync(node24, [join(root, 'scripts/code-cache.cjs'), join(dist, 'rdrescue.cjs'), cache, join(warm, 'out'), join(root, 'fixtures/example-image.img'), ...images], { stdio: ['ignore', 'ignore', 'inherit'] });
  } finally {
    rmSync(warm, { recursive: true, force: true });
  }
  writeFileSync(
    cfg,
    JSON.stringify({
      main: join(root, 'scripts/sea-main.cjs'),
      output: blob,
      disableExperimentalSEAWarning: true,
      assets: { 'rdrescue.cjs': join(dist, 'rdrescue.cjs'), 'code-cache': cache },
    }),
  );
  execFileSync(node24, ['--experimental-sea-config', cfg], { stdio: 'inherit' });
  const exe = join(dist, 'rdrescue');
  // Built under a temporary name and renamed: a running copy or a concurrent build never sees half an executable.
  const tmp = `${exe}.tmp-${process.pid}`;
  copyFileSync(node24, tmp);
  chmodSync(tmp, 0o755);
  // Node's binary carries symbols the executable never needs; stripping keeps the blob's note intact.
  execFileSync('strip', ['--strip-all', tmp]);
  const postject = join(dirname(require.resolve('postject/package.json')), 'dist', 'cli.js');
  execFileSync(process.execPath, [postject, tmp, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  rmSync(blob);
  rmSync(cfg);
  rmSync(cache);
  const check = spawnSync(tmp, ['--version'], { env: { ...process.env, RDRESCUE_CODE_CACHE_CHECK: '1' }, encoding: 'utf8' });
  if (check.status !== 0 || !check.stderr.includes('code cache accepted')) {
    rmSync(tmp);
    console.error(`build: the executable does not start with its code cache (${check.error?.message ?? check.stderr.trim()})`);
    process.exit(1);
  }
  renameSync(tmp, exe);
  console.log(`dist/rdrescue: ${(statSync(exe).size / 1048576).toFixed(1)} MiB`);
}

/**
 * Images for the code cache's warm-up run, made from the example image by
 * the new bundle: the example image itself is one small gzip member, so the
 * paths most images take (an uncompressed segment walked by seeking, zstd,
 * xz) would otherwise be compiled afresh at every start. ls of the
 * Ubuntu-style bench image: 0.096-0.100 s against 0.100-0.102 s.
 */
function warmUpImages(node, dir) {
  const run = (...args) => execFileSync(node, [join(dist, 'rdrescue.cjs'), ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
  run('extract', join(root, 'fixtures/example-image.img'), join(dir, 'x'));
  // Ubuntu's layout: early archives, then a large uncompressed part, then zstd. A file larger than the
  // first read makes the walk seek.
  const layout = join(dir, 'layout');
  cpSync(join(dir, 'x'), layout, { recursive: true });
  cpSync(join(layout, 'main'), join(layout, 'main2'), { recursive: true });
  writeFileSync(join(layout, 'main', 'firmware.bin'), Buffer.alloc(3 << 20, 0x5a));
  const images = [join(dir, 'ubuntu-style.img')];
  run('repack', layout, '-o', images[0], '--compress', 'none', '--later-compress', 'zstd');
  // xz is decoded by the xz program: without it at build time, its path is compiled at first use.
  if (spawnSync('xz', ['--version']).status === 0) {
    images.push(join(dir, 'xz.img'));
    run('repack', join(dir, 'x', 'main'), '-o', images[1], '--compress', 'xz');
  }
  return images;
}

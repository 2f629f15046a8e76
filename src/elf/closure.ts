import { openSync, readSync, closeSync } from 'node:fs';
import { posix } from 'node:path';
import { RdError, FormatError, EXIT } from '../errors.js';
import { readElf, isElfHead, compatible, describeElf, DF_1_NODEFLIB, type ElfInfo } from './elf.js';
import { LibraryIndex, acceptedCacheFlags, defaultDirs } from './ldcache.js';
import { RootFs, type SymlinkHop, type ResolvedPath } from './rootfs.js';
import { platformFor } from './platform.js';

export type ClosureKind = 'program' | 'interpreter' | 'library';
/** The search step that found a library: DT_RPATH, DT_RUNPATH, ld.so.cache, ld.so.conf (root without cache), default directories, or a DT_NEEDED path. */
export type FoundVia = 'rpath' | 'runpath' | 'cache' | 'ld.so.conf' | 'default' | 'path';

/** One file a program needs at run time, as ld.so would open it inside the root. */
export interface ClosureFile {
  /** Absolute path inside the root by which it is asked for (PT_INTERP, the search result, the program path). */
  path: string;
  /** The same file with every symlink resolved (inside the root). */
  realPath: string;
  /** Where its bytes are on the host. */
  hostPath: string;
  kind: ClosureKind;
  /** Symlinks passed on the way from `path` to `realPath` (e.g. /lib -> usr/lib, libtinfo.so.6 -> libtinfo.so.6.4): recreate them as symlinks. */
  symlinks: SymlinkHop[];
  /** st_mode permission bits (with setuid/setgid/sticky) of the real file. */
  perm: number;
  /** ELF facts; absent for a #! script. */
  elf?: Pick<ElfInfo, 'class' | 'machine' | 'flags' | 'soname' | 'needed' | 'rpath' | 'runpath' | 'interpreter'>;
  /** For a #! script: the interpreter line's program. */
  shebang?: string;
}

/** What one requested program loads, in ld.so's load order (breadth-first), as `ldd` lists it. */
export interface ProgramDeps {
  /** What the user asked for (a path or a name found in PATH). */
  request: string;
  path: string;
  /** 'static' (no PT_INTERP, no PT_DYNAMIC), 'static-pie' (PT_DYNAMIC but nothing to load), 'dynamic', or 'script' (#!). */
  linkage: 'static' | 'static-pie' | 'dynamic' | 'script';
  interpreter?: string;
  /** Each DT_NEEDED name loaded, first the program's own, then theirs; `path` is undefined when not found. */
  libraries: Array<{
    name: string;
    path?: string;
    neededBy: string;
    /** Which step of the search found it. */
    via?: FoundVia;
    /** True when `path` is in one of the loader's default directories (found there even without a cache). */
    defaultDir?: boolean;
  }>;
  /** For a script: the programs its #! line runs (the interpreter, and for `env NAME` the NAME found in PATH). */
  runs?: string[];
}

export interface MissingLibrary {
  name: string;
  /** Path of the object whose DT_NEEDED asked for it. */
  neededBy: string;
  /** Every directory looked in, in order ("/etc/ld.so.cache" stands for the cache lookup). */
  searched: string[];
  /** Files of that name passed over because they are for another ABI, e.g. "/opt/lib/libfoo.so (ELF 64-bit x86-64)". */
  skipped: string[];
}

export interface Closure {
  /** The root on the host ("/" unless --root). */
  root: string;
  /** Programs, their interpreters and libraries, each path once, in load order of the programs as given. */
  files: ClosureFile[];
  programs: ProgramDeps[];
  missing: MissingLibrary[];
  /** Requested programs that could not be resolved at all (with `keepGoing`); they add nothing to `files` or `programs`. */
  errors: ProgramError[];
  /** Where names without a path were found: 'cache' (/etc/ld.so.cache), 'ld.so.conf' (no cache) or 'none'. */
  librarySource: 'cache' | 'ld.so.conf' | 'none';
}

/** A requested program that could not be resolved: not found, not ELF or #!, corrupt, its PT_INTERP missing. */
export interface ProgramError {
  request: string;
  /** The one-line message, naming the file and the cause. */
  message: string;
  /** The exit status this error alone would give (EXIT). */
  exitCode: number;
}

export interface ClosureOptions {
  /** Resolve inside this directory as if it were / (default "/"). */
  root?: string;
  /** Directories searched for program names without a slash; default: $PATH for the host root, the standard list for another root. */
  path?: string[];
  /** Return unresolved libraries in `missing` instead of throwing. */
  allowMissing?: boolean;
  /** Record a program that cannot be resolved in `errors` and go on with the next, as ldd does, instead of throwing. */
  keepGoing?: boolean;
}

/** The PATH used inside a root other than the host's, whose own $PATH we cannot know. */
export const STANDARD_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** glibc's standard loader per ABI: what ldd loads a library (no PT_INTERP) with, and where $LIB is derived from. */
const STANDARD_INTERP: Record<string, string> = {
  '62/64': '/lib64/ld-linux-x86-64.so.2',
  '62/32': '/libx32/ld-linux-x32.so.2',
  '3/32': '/lib/ld-linux.so.2',
  '183/64': '/lib/ld-linux-aarch64.so.1',
  '40/32': '/lib/ld-linux-armhf.so.3',
  '21/64': '/lib64/ld64.so.2',
  '22/64': '/lib/ld64.so.1',
  '243/64': '/lib/ld-linux-riscv64-lp64d.so.1',
};


/** One loaded object in the emulated link map. */
interface LoadedObject {
  path: string;
  elf: ElfInfo;
  /** Names it answers to: the DT_NEEDED names that found it and its DT_SONAME. */
  names: Set<string>;
  realPath: string;
  /** The object whose DT_NEEDED loaded it (l_loader): RPATH is inherited along this chain. */
  loader?: LoadedObject;
  origin: string;
}

/**
 * Resolves every file the given programs need to run, by reading ELF headers
 * and following glibc's rules (elf/dl-load.c _dl_map_object), never by
 * running ld.so or the program: PT_INTERP, then DT_NEEDED breadth-first; for
 * each name DT_RPATH of the needing object and its loaders (only objects
 * without DT_RUNPATH), DT_RUNPATH of the needing object only, the
 * ld.so.cache, the default directories. $ORIGIN, $LIB and $PLATFORM are
 * expanded. Candidates of another class or machine are skipped as ld.so
 * does. Not emulated: LD_LIBRARY_PATH and LD_PRELOAD (environment of one
 * run, not a property of the program), /etc/ld.so.preload, glibc-hwcaps and
 * legacy hwcap subdirectories (CPU-specific; the baseline copy is chosen),
 * dlopen() at run time (invisible in headers: NSS modules, plugins).
 */
export function resolveClosure(programs: string[], opts: ClosureOptions = {}): Closure {
  const fs = new RootFs(opts.root ?? '/');
  const index = new LibraryIndex(fs);
  const searchPath = opts.path ?? (fs.dir === '/' ? hostPathDirs() : STANDARD_PATH);
  const files = new Map<string, ClosureFile>();
  const out: Closure = { root: fs.dir, files: [], programs: [], missing: [], errors: [], librarySource: index.source };
  const r = new Resolver(fs, index, searchPath, files, out);
  for (const p of programs) {
    if (!opts.keepGoing) {
      r.program(p, p, 0);
      continue;
    }
    // A program that fails half way (a script whose interpreter is missing) must leave no partial closure behind.
    const mark = { files: files.size, programs: out.programs.length, missing: out.missing.length };
    try {
      r.program(p, p, 0);
    } catch (e) {
      const sys = e as NodeJS.ErrnoException;
      if (!(e instanceof RdError) && typeof sys?.code !== 'string') throw e;
      for (const k of [...files.keys()].slice(mark.files)) files.delete(k);
      out.programs.length = mark.programs;
      out.missing.length = mark.missing;
      out.errors.push({ request: p, message: sys.message, exitCode: e instanceof RdError ? e.exitCode : EXIT.failure });
    }
  }
  out.files = [...files.values()];
  if (out.missing.length && !opts.allowMissing) throw missingError(out.missing[0], fs.dir);
  return out;
}

/** The error for a library ld.so would not find: which one, who needs it, where it was looked for. */
export function missingError(m: MissingLibrary, root: string): RdError {
  const where = root === '/' ? '' : ` (under root ${root})`;
  const skipped = m.skipped.length ? `; skipped as incompatible: ${m.skipped.join(', ')}` : '';
  return new RdError(`library ${m.name} needed by ${m.neededBy} not found${where}; searched ${m.searched.join(', ') || 'nothing'}${skipped}`, {}, EXIT.failure);
}

/** Finds a command name in PATH-style directories inside the root, as execvp does. */
export function findInPath(fs: RootFs, name: string, dirs: string[]): string | undefined {
  for (const d of dirs) {
    if (!d.startsWith('/')) continue;
    const cand = d.replace(/\/+$/, '') + '/' + name;
    const r = fs.resolve(cand);
    if (r?.stat.isFile() && r.stat.mode & 0o111) return cand;
  }
  return undefined;
}

function hostPathDirs(): string[] {
  const dirs = (process.env.PATH ?? '').split(':').filter((d) => d.startsWith('/'));
  return dirs.length ? dirs : STANDARD_PATH;
}

/** How many #! levels the kernel follows (BINPRM_MAX_RECURSION). */
const MAX_SCRIPT_DEPTH = 4;

class Resolver {
  constructor(
    private fs: RootFs,
    private index: LibraryIndex,
    private searchPath: string[],
    private files: Map<string, ClosureFile>,
    private out: Closure,
  ) {}

  program(request: string, display: string, depth: number): void {
    // A relative path names a file from the working directory on the host, and from the top of any other root.
    const path = !request.includes('/') ? findInPath(this.fs, request, this.searchPath) : this.fs.dir === '/' ? posix.resolve(process.cwd(), request) : absolute(request);
    if (!path) throw new RdError(`program ${request} not found in PATH (${this.searchPath.join(':')})`, {}, EXIT.failure);
    const res = this.fs.resolve(path);
    if (!res) throw new RdError(`program not found${this.fs.dir === '/' ? '' : ` under root ${this.fs.dir}`}`, { file: display }, EXIT.failure);
    if (!res.stat.isFile()) throw new FormatError('not a regular file', { file: display });
    const head = readHead(res.hostPath, 256);
    if (head.subarray(0, 2).toString('latin1') === '#!') return this.script(request, path, res, head, depth);
    if (!isElfHead(head)) throw new FormatError('not an ELF program or #! script', { file: display });
    const elf = readElf(res.hostPath, display);
    this.add(path, res, 'program', elf);
    const deps: ProgramDeps = { request, path, linkage: 'dynamic', libraries: [] };
    this.out.programs.push(deps);
    if (!elf.interpreter && !elf.dynamic) {
      deps.linkage = 'static';
      return;
    }
    if (!elf.interpreter && elf.needed.length === 0) {
      deps.linkage = 'static-pie';
      return;
    }
    this.link(path, res, elf, deps);
  }

  /** The breadth-first walk of _dl_map_object_deps, starting from the main program. */
  private link(path: string, res: ResolvedPath, elf: ElfInfo, deps: ProgramDeps): void {
    // The kernel hands ld.so the program by its real path (/proc/self/exe), which is what $ORIGIN means for it.
    const main: LoadedObject = { path, elf, names: new Set(), realPath: res.path, origin: posix.dirname(res.path) };
    const loaded: LoadedObject[] = [main];
    // A library has no PT_INTERP; like ldd (RTLDLIST), load it with the standard loader of its ABI when the root has one.
    const interpPath = elf.interpreter ?? STANDARD_INTERP[`${elf.machine}/${elf.class}`];
    const interpRes = interpPath ? this.fs.resolve(interpPath) : undefined;
    if (elf.interpreter && !interpRes?.stat.isFile()) {
      throw new RdError(`interpreter ${elf.interpreter} (PT_INTERP) not found${this.fs.dir === '/' ? '' : ` under root ${this.fs.dir}`}`, { file: path }, EXIT.failure);
    }
    const ielf = interpPath && interpRes?.stat.isFile() ? readElfIfCompatible(interpRes.hostPath, interpPath, elf, !!elf.interpreter) : undefined;
    let rtld: LoadedObject | undefined;
    const useRtld = () => {
      if (!rtld || deps.interpreter) return;
      this.add(rtld.path, interpRes!, 'interpreter', rtld.elf);
      deps.interpreter = rtld.path;
    };
    if (interpPath && interpRes && ielf) {
      // ld.so is mapped before any library, under its path and its soname: a DT_NEEDED of ld-linux-x86-64.so.2 finds it already loaded.
      rtld = { path: interpPath, elf: ielf, names: new Set(ielf.soname ? [ielf.soname] : []), realPath: interpRes.path, origin: posix.dirname(interpPath) };
      loaded.push(rtld);
      // A program needs its PT_INTERP to start at all; a library needs the loader only if something names it (as ldd shows it).
      if (elf.interpreter) useRtld();
    }
    const libDir = libDirOf(elf, interpRes, this.fs);
    const ctx: SearchContext = {
      main,
      libDir,
      defaults: defaultDirs(libDir),
      platform: platformFor(elf.machine, elf.class),
      cacheFlags: acceptedCacheFlags(elf),
    };
    // In trace mode ld.so records a name it could not find once, so later objects needing it add nothing.
    const notFound = new Set<string>();
    for (let i = 0; i < loaded.length; i++) {
      const obj = loaded[i];
      // ld.so is self-contained: the loader never searches for dependencies of its own.
      if (obj === rtld) continue;
      for (const name of obj.elf.needed) {
        if (notFound.has(name)) continue;
        const already = loaded.find((o) => o.names.has(name) || o.path === name);
        if (already) {
          if (already === rtld) useRtld();
          continue;
        }
        const found = this.search(name, obj, ctx);
        if ('searched' in found) {
          notFound.add(name);
          deps.libraries.push({ name, neededBy: obj.path });
          this.out.missing.push({ name, neededBy: obj.path, searched: found.searched, skipped: found.skipped });
          continue;
        }
        // The same file under a second name is not mapped twice (ld.so compares device and inode).
        const same = loaded.find((o) => o.realPath === found.res.path);
        if (same) {
          same.names.add(name);
          if (same === rtld) useRtld();
          continue;
        }
        const lobj: LoadedObject = { path: found.path, elf: found.elf, names: new Set([name]), realPath: found.res.path, loader: obj, origin: posix.dirname(found.path) };
        if (found.elf.soname) lobj.names.add(found.elf.soname);
        loaded.push(lobj);
        this.add(found.path, found.res, 'library', found.elf);
        deps.libraries.push({ name, path: found.path, neededBy: obj.path, via: found.via, defaultDir: ctx.defaults.includes(posix.dirname(found.path)) });
      }
    }
  }

  private search(name: string, loader: LoadedObject, ctx: SearchContext): { path: string; res: ResolvedPath; elf: ElfInfo; via: FoundVia } | { searched: string[]; skipped: string[] } {
    const searched: string[] = [];
    const skipped: string[] = [];
    const tryPath = (cand: string, via: FoundVia) => {
      const res = this.fs.resolve(cand);
      if (!res?.stat.isFile()) return undefined;
      let elf: ElfInfo;
      try {
        elf = readElf(res.hostPath, cand);
      } catch (e) {
        if (e instanceof FormatError) return undefined; // not loadable: ld.so moves on
        throw e;
      }
      // open_verify: another class or machine is skipped ("skipping incompatible"), the search goes on.
      if (compatible(elf, ctx.main.elf)) return { path: cand, res, elf, via };
      skipped.push(`${cand} (${describeElf(elf)})`);
      return undefined;
    };
    const tryDirs = (dirs: string[], via: FoundVia) => {
      for (const d of dirs) {
        searched.push(d);
        const hit = tryPath(d.replace(/\/+$/, '') + '/' + name, via);
        if (hit) return hit;
      }
      return undefined;
    };
    if (name.includes('/')) {
      // A DT_NEEDED with a slash is a path (after DST expansion), not searched for; relative ones are taken from the root.
      const p = expandTokens(name, loader.origin, ctx);
      const hit = p === undefined ? undefined : tryPath(absolute(p), 'path');
      return hit ?? { searched: [p ?? name], skipped };
    }
    if (!loader.elf.runpath) {
      let sawMain = false;
      for (let l: LoadedObject | undefined = loader; l; l = l.loader) {
        if (l === ctx.main) sawMain = true;
        const hit = tryDirs(pathList(effectiveRpath(l.elf), l.origin, ctx), 'rpath');
        if (hit) return hit;
      }
      if (!sawMain) {
        const hit = tryDirs(pathList(effectiveRpath(ctx.main.elf), ctx.main.origin, ctx), 'rpath');
        if (hit) return hit;
      }
    }
    if (loader.elf.runpath) {
      const hit = tryDirs(pathList(loader.elf.runpath, loader.origin, ctx), 'runpath');
      if (hit) return hit;
    }
    if (loader.elf.flags1 & DF_1_NODEFLIB) return { searched, skipped };
    if (this.index.source === 'cache') {
      searched.push('/etc/ld.so.cache');
      const cached = this.index.lookupCache(name, ctx.cacheFlags);
      const hit = cached ? tryPath(cached, 'cache') : undefined;
      if (hit) return hit;
    } else if (this.index.source === 'ld.so.conf') {
      const hit = tryDirs(this.index.confDirs, 'ld.so.conf');
      if (hit) return hit;
    }
    return tryDirs(ctx.defaults, 'default') ?? { searched, skipped };
  }

  private script(request: string, path: string, res: ResolvedPath, head: Buffer, depth: number): void {
    if (depth >= MAX_SCRIPT_DEPTH) throw new FormatError(`#! interpreters nested more than ${MAX_SCRIPT_DEPTH} deep`, { file: path });
    const nl = head.indexOf(0x0a);
    const line = head.subarray(2, nl < 0 ? head.length : nl).toString('utf8').trim();
    const [interp, ...args] = line.split(/[ \t]+/);
    if (!interp || !interp.startsWith('/')) throw new FormatError(`#! line names no absolute interpreter: ${JSON.stringify(line)}`, { file: path });
    this.add(path, res, 'program');
    this.files.get(path)!.shebang = interp;
    const deps: ProgramDeps = { request, path, linkage: 'script', libraries: [], runs: [interp] };
    this.out.programs.push(deps);
    this.program(interp, `${interp} (#! interpreter of ${path})`, depth + 1);
    // `#!/usr/bin/env NAME` runs NAME from PATH: without it the script still cannot start.
    if (posix.basename(interp) === 'env' && args.length === 1 && !args[0].startsWith('-') && !args[0].includes('=')) {
      const found = args[0].includes('/') ? args[0] : findInPath(this.fs, args[0], this.searchPath);
      if (!found) throw new RdError(`${args[0]} (run by #!${line} in ${path}) not found in PATH (${this.searchPath.join(':')})`, {}, EXIT.failure);
      deps.runs!.push(found);
      this.program(found, `${found} (run by env in ${path})`, depth + 1);
    }
  }

  private add(path: string, res: ResolvedPath, kind: ClosureKind, elf?: ElfInfo): void {
    if (this.files.has(path)) return;
    this.files.set(path, {
      path,
      realPath: res.path,
      hostPath: res.hostPath,
      kind,
      symlinks: res.symlinks,
      perm: res.stat.mode & 0o7777,
      ...(elf && {
        elf: { class: elf.class, machine: elf.machine, flags: elf.flags, soname: elf.soname, needed: elf.needed, rpath: elf.rpath, runpath: elf.runpath, interpreter: elf.interpreter },
      }),
    });
  }
}

interface SearchContext {
  main: LoadedObject;
  libDir: string;
  defaults: string[];
  platform?: string;
  cacheFlags: number[];
}

/** ld.so drops DT_RPATH of an object that also has DT_RUNPATH (get-dynamic-info.h). */
function effectiveRpath(e: ElfInfo): string | undefined {
  return e.runpath ? undefined : e.rpath;
}

/** Splits an RPATH/RUNPATH and expands tokens; elements that cannot be expanded or are relative are dropped. */
function pathList(value: string | undefined, origin: string, ctx: SearchContext): string[] {
  if (!value) return [];
  const dirs: string[] = [];
  for (const el of value.split(':')) {
    // An empty element means the process's working directory, which a program's headers cannot tell us.
    if (!el) continue;
    const d = expandTokens(el, origin, ctx);
    if (d !== undefined && d.startsWith('/')) dirs.push(d);
  }
  return dirs;
}

/** Dynamic string tokens ($ORIGIN, $LIB, $PLATFORM, with or without braces) as _dl_dst_substitute expands them. */
function expandTokens(s: string, origin: string, ctx: SearchContext): string | undefined {
  let failed = false;
  const out = s.replace(/\$(\{(ORIGIN|LIB|PLATFORM)\}|(ORIGIN|LIB|PLATFORM)(?![A-Za-z0-9_]))/g, (_m, _b, braced: string, bare: string) => {
    const tok = braced ?? bare;
    const v = tok === 'ORIGIN' ? origin : tok === 'LIB' ? ctx.libDir : ctx.platform;
    if (v === undefined) failed = true;
    return v ?? '';
  });
  return failed ? undefined : out;
}

/**
 * What $LIB means for this program's loader: the loader's own directory
 * without the /usr prefix (Debian: lib/x86_64-linux-gnu, biarch i386: lib32,
 * Fedora: lib64), which is how each distribution configures glibc's slibdir.
 */
function libDirOf(elf: ElfInfo, interp: ResolvedPath | undefined, fs: RootFs): string {
  if (interp) return posix.dirname(interp.path).replace(/^\/(usr\/)?/, '') || 'lib';
  const triplet: Record<string, string> = { '62/64': 'x86_64-linux-gnu', '3/32': 'i386-linux-gnu', '183/64': 'aarch64-linux-gnu' };
  const t = triplet[`${elf.machine}/${elf.class}`];
  if (t && fs.resolve(`/usr/lib/${t}`)) return `lib/${t}`;
  return elf.class === 64 && fs.resolve('/usr/lib64') ? 'lib64' : 'lib';
}

/** The loader's ELF facts; for the standard loader picked for a library, undefined unless it matches the library's ABI. */
function readElfIfCompatible(hostPath: string, name: string, forElf: ElfInfo, required: boolean): ElfInfo | undefined {
  try {
    const e = readElf(hostPath, name);
    return required || compatible(e, forElf) ? e : undefined;
  } catch (err) {
    if (!required && err instanceof FormatError) return undefined;
    throw err;
  }
}

function absolute(p: string): string {
  return p.startsWith('/') ? p : '/' + p;
}

function readHead(hostPath: string, n: number): Buffer {
  const fd = openSync(hostPath, 'r');
  try {
    const b = Buffer.alloc(n);
    return b.subarray(0, readSync(fd, b, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}

import { accessSync, constants, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import type { EntryType } from '../cpio/entry.js';
import { RdError } from '../errors.js';
import { TreeWriter } from '../image/extract.js';
import { normalizeName } from '../image/names.js';
import { readImage } from '../image/read.js';
import type { Segment } from '../image/segment.js';
import { isElfHead } from '../elf/elf.js';

/** One path as the kernel leaves it after unpacking every segment in order. */
export interface FactEntry {
  type: EntryType;
  perm: number;
  size: number;
  target?: string;
  segment: number;
}

/** What `check` knows about an image after reading it once. */
export interface ImageFacts {
  file: string;
  segments: Segment[];
  /** The merged view: normalised path ("" is the root) to what is there at boot. */
  entries: Map<string, FactEntry>;
  /** Contents of the small text files the rules read (modules.dep, modules.builtin, generator markers). */
  texts: Map<string, string>;
  /**
   * A partial extraction of the image: every directory, symlink and file name
   * (hard links as links), but contents only for ELF programs and libraries,
   * #! scripts and the loader's configuration, which is all the ELF closure
   * reads. Removed by `dispose`.
   */
  tree: string;
  /** Paths (normalised) of regular files whose content is ELF, kernel modules excepted. */
  elfFiles: string[];
  /** Where the image could not be read any further, and why (truncated, corrupt member…); facts hold what came before it. */
  unreadable?: { message: string; offset?: number; segment?: number };
  dispose(): void;
}

/** Text files kept in memory: small, and what the rules need. */
const TEXT_RE = /^(?:usr\/)?lib\/modules\/[^/]+\/modules\.(?:dep|builtin)$|^usr\/lib\/dracut\/(?:modules\.txt|build-parameter\.txt)$|^(?:usr\/lib|etc)\/initrd-release$|^conf\/initramfs\.conf$|^etc\/crypttab$|^cryptroot\/crypttab$/;
/** Loader configuration: read by the closure for library search paths. */
const LOADER_RE = /^etc\/ld\.so\.(?:cache|conf(?:\.d\/.*)?)$/;
const MODULE_RE = /\.ko(?:\.(?:xz|zst|gz))?$/;

/**
 * Reads the image once into the facts the rules need. A read error does not
 * throw: the kernel keeps what it unpacked before the bad member, so the
 * facts are those, and `unreadable` says where reading stopped.
 */
export async function readImageFacts(image: string): Promise<ImageFacts> {
  const tree = mkdtempSync(join(scratchDir(), 'rdrescue-check-'));
  const writer = new TreeWriter(tree, false, () => undefined);
  const segments: Segment[] = [];
  const entries = new Map<string, FactEntry>();
  const texts = new Map<string, string>();
  const elfFiles: string[] = [];
  const facts: ImageFacts = { file: image, segments, entries, texts, tree, elfFiles, dispose: () => rmSync(tree, { recursive: true, force: true }) };
  let archive = 0;
  let lastSegment: Segment | undefined;
  try {
    for await (const ev of readImage(image)) {
      if (ev.kind === 'segment') {
        segments.push(ev.segment);
        continue;
      }
      lastSegment = ev.segment;
      if (ev.archive !== archive) {
        archive = ev.archive;
        writer.resetLinks();
      }
      const e = ev.entry;
      const path = normalizeName(e.name);
      // Device nodes, fifos and sockets matter to no rule; creating them would need mknod.
      if (e.type !== 'dir' && e.type !== 'file' && e.type !== 'symlink') {
        entries.set(path, { type: e.type, perm: e.mode & 0o7777, size: 0, segment: ev.segment.index });
        continue;
      }
      const entry: FactEntry = { type: e.type, perm: e.mode & 0o7777, size: e.size, target: e.target, segment: ev.segment.index };
      entries.set(path, entry);
      if (path === '' && e.type === 'dir') continue;
      const keepText = TEXT_RE.test(path);
      const chunks: Buffer[] = [];
      // Whether the content goes into the tree is decided from its first bytes.
      const it = e.type === 'file' ? ev.body()[Symbol.asyncIterator]() : undefined;
      let held: Buffer = Buffer.alloc(0);
      let ended = !it;
      while (!ended && held.length < 4) {
        const r = await it!.next();
        if (r.done) ended = true;
        else held = held.length ? Buffer.concat([held, r.value]) : (r.value as Buffer);
      }
      if (keepText) chunks.push(held);
      const elf = isElfHead(held) && !MODULE_RE.test(path);
      const keep = elf || (held[0] === 0x23 && held[1] === 0x21) || LOADER_RE.test(path);
      const rest = async function* () {
        if (ended) return;
        for (let r = await it!.next(); !r.done; r = await it!.next()) {
          if (keepText) chunks.push(Buffer.from(r.value));
          if (keep) yield r.value;
        }
      };
      // Other files are left out of the tree (modules, firmware, data: nothing the closure reads), except hard-link names, which carry a group's content.
      if (e.type === 'file' && !keep && e.nlink < 2) {
        for await (const _ of rest());
        if (keepText) texts.set(path, Buffer.concat(chunks).toString('latin1'));
        continue;
      }
      const body = async function* () {
        if (keep && held.length) yield held;
        yield* rest();
      };
      try {
        await writer.write(e, body, ev.rawName);
        if (elf) elfFiles.push(path);
      } catch (err) {
        // A name the tree refuses (hostile, or clashing) is left out of the closure tree; the merged view still has it.
        if (!(err instanceof RdError) && typeof (err as NodeJS.ErrnoException).code !== 'string') throw err;
      }
      if (keepText) texts.set(path, Buffer.concat(chunks).toString('latin1'));
    }
  } catch (err) {
    if (!(err instanceof RdError)) {
      facts.dispose();
      throw err;
    }
    const w = err.where;
    // The rule names file, segment and offset itself: keep the cause only.
    const cause = err.message.replace(`${w.file ?? image}: `, '').replace(/^segment \d+: /, '').replace(/^offset \d+: /, '');
    facts.unreadable = { message: cause, offset: w.offset, segment: w.segment ?? lastSegment?.index };
  }
  writer.finish();
  return facts;
}

/** Follows symlinks inside the merged view (absolute targets from the image's root), as the kernel resolves a path at boot. */
export function resolveInView(entries: Map<string, FactEntry>, path: string): { path: string; entry: FactEntry } | undefined {
  const pending = path.split('/').filter((c) => c && c !== '.');
  let cur: string[] = [];
  for (let hops = 0; pending.length; ) {
    const c = pending.shift()!;
    if (c === '..') {
      cur.pop();
      continue;
    }
    const next = [...cur, c].join('/');
    const e = entries.get(next);
    if (!e) return undefined;
    if (e.type === 'symlink') {
      if (++hops > 40) return undefined;
      const t = e.target ?? '';
      if (t.startsWith('/')) cur = [];
      pending.unshift(...t.split('/').filter((x) => x && x !== '.'));
      continue;
    }
    cur.push(c);
  }
  const p = cur.join('/');
  const entry = entries.get(p);
  return entry ? { path: p, entry } : undefined;
}

/** Where a program name is found in the image's PATH (the directories init scripts and systemd search), or undefined. */
export function findProgramInView(entries: Map<string, FactEntry>, name: string): string | undefined {
  for (const d of ['usr/local/sbin', 'usr/local/bin', 'usr/sbin', 'usr/bin', 'sbin', 'bin', 'usr/lib/systemd']) {
    const r = resolveInView(entries, posix.join(d, name));
    if (r && r.entry.type === 'file' && r.entry.perm & 0o111) return '/' + posix.join(d, name);
  }
  return undefined;
}

/** Scratch space in memory where there is some (/dev/shm): the tree is written and removed on every check, and a disk with discard makes that slow. */
function scratchDir(): string {
  try {
    accessSync('/dev/shm', constants.W_OK);
    if (statSync('/dev/shm').isDirectory()) return '/dev/shm';
  } catch {
    /* no tmpfs there */
  }
  return tmpdir();
}

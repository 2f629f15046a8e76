import { fstatSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';

/** A file whose bytes are being read or written, polled by the display: nothing is counted on the hot path. */
export interface Tracked {
  path: string;
  direction: 'reading' | 'writing';
  /** Bytes read (the position in the file) or written so far; undefined once it says nothing (the reader is gone). */
  done(): number | undefined;
  /** The file's size, for a percentage, when known. */
  total?: number;
  /**
   * A program decoding the file as it reads it (dd feeding xz): while one runs,
   * its position is the progress, not that of rdrescue's own scan of the
   * member's framing, which runs ahead.
   */
  decoder?: boolean;
}

/** How often the line is redrawn. */
const TICK_MS = 200;
/**
 * A run shorter than this shows nothing: it is over before anyone could read
 * the line. RDRESCUE_PROGRESS_AFTER_MS changes it (0: at once), for a slow
 * terminal session or a test that must not depend on this machine's speed.
 */
const SHOW_AFTER_MS = Number(process.env.RDRESCUE_PROGRESS_AFTER_MS ?? 1000) || 0;

let display: Display | undefined;

/**
 * Shows a progress line on `tty` (stderr on a terminal) while images are read
 * or written: bytes, a percentage where the size is known, and the rate. It is
 * drawn in place only once a run has lasted a second, and erased when the
 * file is closed and by stopProgress(). Without this call, track() costs
 * nothing.
 */
export function startProgress(tty: NodeJS.WriteStream, stdout: NodeJS.WriteStream = process.stdout): void {
  display ??= new Display(tty, stdout);
}

export function stopProgress(): void {
  display?.stop();
  display = undefined;
}

/** Registers a file for the display; returns the call that unregisters it. A no-op unless startProgress ran. */
export function track(t: Tracked): () => void {
  if (!display) return () => undefined;
  const d = display;
  d.add(t);
  return () => d.remove(t);
}

/** Tracks an output file by its size on disk, which also counts what a compressor program writes into it directly. */
export function trackOutput(path: string, fd: number): () => void {
  if (!display) return () => undefined;
  return track({ path, direction: 'writing', done: () => fstatSync(fd).size });
}

/** Tracks a program reading a file on its stdin (dd if=…), through its file position in /proc. */
export function trackReader(path: string, pid: number): () => void {
  if (!display) return () => undefined;
  return track({
    path,
    direction: 'reading',
    decoder: true,
    done: () => {
      try {
        const pos = /^pos:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/0`, 'utf8'))?.[1];
        return pos === undefined ? undefined : Number(pos);
      } catch {
        return undefined; // it has exited; its exit event has not been handled yet
      }
    },
  });
}

class Display {
  private readonly items = new Set<Tracked>();
  private timer?: NodeJS.Timeout;
  private since = 0;
  private drawn = false;
  private readonly restore: Array<() => void> = [];
  /** Writes to the terminal past the wrapper below. */
  private readonly out: (s: string) => void;
  private readonly width: () => number;

  constructor(tty: NodeJS.WriteStream, stdout: NodeJS.WriteStream) {
    const own = tty.write.bind(tty);
    this.out = (s) => own(s);
    this.width = () => tty.columns || 80;
    // Anything else written to the terminal (a warning, ls's lines) must not land in the middle of the line:
    // erase it first, and redraw on the next tick.
    for (const stream of new Set([tty, stdout])) {
      if (!stream.isTTY) continue;
      const write = stream.write;
      stream.write = ((...args: Parameters<typeof write>) => {
        this.erase();
        return write.apply(stream, args);
      }) as typeof write;
      this.restore.push(() => (stream.write = write));
    }
  }

  add(t: Tracked): void {
    if (this.items.size === 0) {
      this.since = Date.now();
      this.timer = setInterval(() => this.draw(), TICK_MS).unref();
    }
    this.items.add(t);
  }

  remove(t: Tracked): void {
    this.items.delete(t);
    if (this.items.size === 0) this.idle();
  }

  stop(): void {
    this.items.clear();
    this.idle();
    for (const r of this.restore) r();
  }

  private idle(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.erase();
  }

  private draw(): void {
    const elapsed = (Date.now() - this.since) / 1000;
    if (elapsed * 1000 < SHOW_AFTER_MS || this.items.size === 0) return;
    // The first file tracked is the one shown.
    const [first] = this.items;
    const same = [...this.items].filter((t) => t.path === first.path && t.direction === first.direction);
    const at = (ts: Tracked[]) => ts.map((t) => t.done()).filter((n): n is number => n !== undefined);
    const decoding = at(same.filter((t) => t.decoder));
    const done = Math.max(0, ...(decoding.length ? decoding : at(same)));
    const total = same.find((t) => t.total !== undefined)?.total;
    const amount = total ? `${Math.min(100, Math.floor((done / total) * 100))}% of ${mib(total)}` : mib(done);
    const line = `rdrescue: ${first.direction} ${basename(first.path)}: ${amount}, ${mib(done / elapsed)}/s`;
    const width = this.width();
    this.out(`\r${line.length >= width ? line.slice(0, width - 1) : line}\x1b[K`);
    this.drawn = true;
  }

  private erase(): void {
    if (!this.drawn) return;
    this.drawn = false;
    this.out('\r\x1b[K');
  }
}

function mib(n: number): string {
  return `${(n / 1048576).toFixed(1)} MiB`;
}

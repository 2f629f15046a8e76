/**
 * Pulls a decoder's output ahead of the parser, up to `limit` bytes. The
 * native decoders work on other threads (zlib's pool, a child process); a
 * request always in flight keeps them busy while the main thread parses
 * headers or writes files, instead of taking turns with it.
 */
export class ReadAhead {
  private queue: Buffer[] = [];
  private queued = 0;
  private pending?: Promise<void>;
  private done = false;
  private failed = false;
  private error: unknown;

  constructor(
    private readonly gen: AsyncGenerator<Buffer, void, undefined>,
    private readonly limit: number,
  ) {}

  async read(): Promise<Buffer | null> {
    for (;;) {
      const b = this.queue.shift();
      if (b) {
        this.queued -= b.length;
        this.pull();
        return b;
      }
      if (this.failed) throw this.error;
      if (this.done) return null;
      this.pull();
      await this.pending;
    }
  }

  /** Stops the decoder (after the request in flight, if any). */
  async close(): Promise<void> {
    await this.pending;
    await this.gen.return(undefined).catch(() => undefined);
  }

  private pull(): void {
    if (this.pending || this.done || this.failed || this.queued >= this.limit) return;
    this.pending = this.gen.next().then(
      (r) => {
        this.pending = undefined;
        if (r.done) this.done = true;
        else {
          this.queue.push(r.value);
          this.queued += r.value.length;
        }
        this.pull();
      },
      (e: unknown) => {
        this.pending = undefined;
        this.failed = true;
        this.error = e;
      },
    );
  }
}

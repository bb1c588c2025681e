/**
 * A first-in, first-out limit on how many jobs of one tool run at once in this process. A job over the limit
 * has already been accepted durably; it waits here, `queued`, and knows its place.
 */

/** Slots of one tool. */
export class Slots {
  private readonly limit: number;
  private running = 0;
  private readonly waiting: { id: string; grant: () => void }[] = [];

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Resolves when `id` may run; call the returned function when it is done. */
  async acquire(id: string, signal?: AbortSignal): Promise<() => void> {
    if (this.running < this.limit && this.waiting.length === 0) {
      this.running += 1;
      return this.releaser();
    }
    await new Promise<void>((resolve, reject) => {
      const entry = { id, grant: resolve };
      this.waiting.push(entry);
      signal?.addEventListener(
        "abort",
        () => {
          const at = this.waiting.indexOf(entry);
          if (at >= 0) this.waiting.splice(at, 1);
          reject(signal.reason);
        },
        { once: true },
      );
    });
    return this.releaser();
  }

  /** 1-based place of `id` among the waiting jobs, or `undefined` when it is not waiting. */
  position(id: string): number | undefined {
    const at = this.waiting.findIndex((entry) => entry.id === id);
    return at < 0 ? undefined : at + 1;
  }

  /** Jobs running and waiting now. */
  get load(): { running: number; queued: number } {
    return { running: this.running, queued: this.waiting.length };
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next === undefined) this.running -= 1;
      else next.grant();
    };
  }
}

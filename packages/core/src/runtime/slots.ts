/**
 * A first-in, first-out limit on how many jobs of one tool run at once in this process. A job over the limit
 * has already been accepted durably; it waits here, `queued`, and knows its place.
 */

import type { ToolSlots } from "../store/tool-slots.ts";

/** Slots of one tool. */
export class Slots implements ToolSlots {
  private readonly limit: number;
  private running = 0;
  private readonly waiting: { id: string; ticket: number; grant: () => void }[] = [];
  /** Each waiting job's ticket: tickets rise in arrival order, so a place is a difference of tickets. */
  private readonly tickets = new Map<string, number>();
  /** Tickets of jobs that left the queue from the middle (cancelled), ascending; rare. */
  private readonly gone: number[] = [];
  private nextTicket = 0;

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
      const entry = { id, ticket: this.nextTicket++, grant: resolve };
      this.waiting.push(entry);
      this.tickets.set(id, entry.ticket);
      signal?.addEventListener(
        "abort",
        () => {
          const at = this.waiting.indexOf(entry);
          if (at >= 0) {
            this.waiting.splice(at, 1);
            this.forget(entry);
            this.gone.splice(sortedIndex(this.gone, entry.ticket), 0, entry.ticket);
            this.pruneGone();
          }
          reject(signal.reason);
        },
        { once: true },
      );
    });
    return this.releaser();
  }

  /** 1-based place of `id` among the waiting jobs, or `undefined` when it is not waiting. */
  position(id: string): number | undefined {
    const ticket = this.tickets.get(id);
    const head = this.waiting[0];
    if (ticket === undefined || head === undefined) return undefined;
    // Jobs ahead: every ticket from the head's to this one, less those that left from the middle.
    return ticket - head.ticket + 1 - (sortedIndex(this.gone, ticket) - sortedIndex(this.gone, head.ticket));
  }

  /** Jobs running and waiting now. */
  get load(): { running: number; queued: number } {
    return { running: this.running, queued: this.waiting.length };
  }

  /** Tickets that left from the middle and are now behind the head no longer count. */
  private pruneGone(): void {
    const head = this.waiting[0]?.ticket ?? Number.POSITIVE_INFINITY;
    let behind = 0;
    while (behind < this.gone.length && (this.gone[behind] as number) < head) behind++;
    if (behind > 0) this.gone.splice(0, behind);
  }

  private forget(entry: { id: string; ticket: number }): void {
    if (this.tickets.get(entry.id) === entry.ticket) this.tickets.delete(entry.id);
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next === undefined) {
        this.running -= 1;
        return;
      }
      this.forget(next);
      this.pruneGone();
      next.grant();
    };
  }
}

/** How many of the ascending `values` are below `value`. */
function sortedIndex(values: number[], value: number): number {
  let low = 0;
  let high = values.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((values[mid] as number) < value) low = mid + 1;
    else high = mid;
  }
  return low;
}

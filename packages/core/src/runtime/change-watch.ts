/**
 * Waiting for followed jobs to change, for every reader that follows jobs (an await that returns on a new
 * question, a `subscriptions/listen` stream, the check for cancels made elsewhere): woken by the store's change
 * feed, and reading everything again now and then anyway, in case a notice was lost; a store without a feed is
 * polled instead.
 */
import { DEFAULTS } from "../defaults.ts";
import type { ChangeFeed, JobChange } from "../store/store.ts";

/** Options of {@link ChangeWatch}. */
export interface ChangeWatchOptions {
  /** With a feed: how often everything is read again anyway. Default {@link DEFAULTS.changeRecheckMs}. */
  recheckMs?: number;
  /** Without a feed: how often everything is read. Default {@link DEFAULTS.jobPollMs}. */
  pollMs?: number;
  /**
   * Makes the first round `"all"` at once: for a reader that read its jobs before it watched them, so a change
   * in between is not missed.
   */
  readAllFirst?: boolean;
}

/**
 * The changes of the jobs one reader follows, taken a round at a time: notices that come while the reader
 * reads are kept for its next round, so a burst of changes costs one read of each job, not one per notice.
 *
 * @example
 * ```ts
 * const watch = new ChangeWatch(store.changes, (id) => followed.has(id));
 * for (let changed = await watch.next(signal); changed !== undefined; changed = await watch.next(signal)) {
 *   for (const id of changed === "all" ? followed : changed) await reread(id);
 * }
 * watch.close();
 * ```
 */
export class ChangeWatch {
  private readonly changed = new Set<string>();
  private all = false;
  private wake: (() => void) | undefined;
  private closed = false;
  private readonly unsubscribe: () => void;
  private readonly intervalMs: number;

  /**
   * `follows` picks the changes this reader cares about among those the feed reports: by the job's ID, or by
   * what changed and whose the job is as well.
   */
  constructor(
    feed: ChangeFeed | undefined,
    follows: (id: string, change: JobChange) => boolean,
    options: ChangeWatchOptions = {},
  ) {
    this.intervalMs =
      feed === undefined
        ? (options.pollMs ?? DEFAULTS.jobPollMs)
        : (options.recheckMs ?? DEFAULTS.changeRecheckMs);
    this.all = options.readAllFirst === true;
    this.unsubscribe =
      feed?.subscribe((changed) => {
        if (changed === "any") this.all = true;
        else for (const change of changed) if (follows(change.id, change)) this.changed.add(change.id);
        if (this.due()) this.wake?.();
      }) ?? (() => undefined);
  }

  /**
   * Resolves with the followed jobs that may have changed since the last round, as soon as there are any;
   * `"all"` when everything is to be read again (the interval passed, or the feed may have missed changes);
   * `undefined` once `signal` aborts or the watch is closed.
   */
  async next(signal?: AbortSignal): Promise<ReadonlySet<string> | "all" | undefined> {
    if (this.closed) return undefined;
    if (!this.due() && signal?.aborted !== true) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.all = true;
          done();
        }, this.intervalMs);
        timer.unref();
        const done = () => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", done);
          this.wake = undefined;
          resolve();
        };
        this.wake = done;
        signal?.addEventListener("abort", done, { once: true });
      });
    }
    if (this.closed || signal?.aborted === true || !this.due()) return undefined;
    const taken = this.all ? "all" : new Set(this.changed);
    this.all = false;
    this.changed.clear();
    return taken;
  }

  /** Stops listening; a round waiting now, and every later one, ends with `undefined`. */
  close(): void {
    this.closed = true;
    this.unsubscribe();
    this.all = false;
    this.changed.clear();
    this.wake?.();
  }

  private due(): boolean {
    return this.all || this.changed.size > 0;
  }
}

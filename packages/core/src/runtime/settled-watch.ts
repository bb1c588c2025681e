/**
 * The check that stops work here on jobs settled elsewhere (a cancel through another process, a job another
 * process finished after a takeover): while jobs run in this process, it asks the store which of them are
 * settled when the store's change feed says one of them may have settled (and every `DEFAULTS.changeRecheckMs`
 * anyway), or every `DEFAULTS.jobPollMs` on a store without a feed, and aborts their signals.
 */
import { log } from "../internal/log.ts";
import { maySettle } from "../store/change-feed.ts";
import type { ChangeFeed, SettledJob } from "../store/store.ts";
import { ChangeWatch } from "./change-watch.ts";
import { errorText } from "./step-retry.ts";

/** The settled check of one engine over its running jobs. */
export class SettledWatch {
  /** The watch of the running jobs, while any runs. */
  private changes: ChangeWatch | undefined;
  private readonly stopped = new AbortController();
  private readonly settledAmong: (ids: readonly string[]) => Promise<SettledJob[]>;
  /** The signal of each job running here now. */
  private readonly running: () => ReadonlyMap<string, AbortController>;
  private readonly feed: ChangeFeed | undefined;

  constructor(
    settledAmong: (ids: readonly string[]) => Promise<SettledJob[]>,
    running: () => ReadonlyMap<string, AbortController>,
    feed?: ChangeFeed,
  ) {
    this.settledAmong = settledAmong;
    this.running = running;
    this.feed = feed;
  }

  /** Starts checking the running jobs, unless it checks already. */
  watch(): void {
    if (this.changes !== undefined || this.stopped.signal.aborted) return;
    // Watched from the first job's start: a cancel made before it the store refuses at the job's next request.
    // A job's creation, its progress and its questions cannot have settled it: only a settle is checked.
    const changes = new ChangeWatch(this.feed, (id, change) => maySettle(change) && this.running().has(id));
    this.changes = changes;
    void this.checkWhileRunning(changes);
  }

  /** Checks the running jobs at each change of theirs, until none runs. */
  private async checkWhileRunning(changes: ChangeWatch): Promise<void> {
    try {
      while (this.running().size > 0) {
        const changed = await changes.next(this.stopped.signal);
        if (changed === undefined) break;
        const ids = [...this.running()]
          .filter(([id, c]) => !c.signal.aborted && (changed === "all" || changed.has(id)))
          .map(([id]) => id);
        if (ids.length > 0) await this.checkSettled(ids);
      }
    } finally {
      changes.close();
      this.changes = undefined;
    }
  }

  /**
   * Aborts the signal of every job among `ids` that the store holds as settled: a cancel made through
   * another process reaches the step's request and its retries. One question for all of them.
   */
  private async checkSettled(ids: string[]): Promise<void> {
    try {
      for (const { id, state } of await this.settledAmong(ids)) {
        const controller = this.running().get(id);
        if (controller === undefined || controller.signal.aborted) continue;
        // A cancel is news to an operator; a job another process finished (after a takeover) is not.
        const level = state === "rejected_canceled" ? "info" : "debug";
        log(level, "job settled elsewhere; stopping its work here", { job: id, state });
        controller.abort(new Error(settledElsewhereMessage(state)));
      }
    } catch (error) {
      // The store is changing hands or briefly unreachable: the next round asks again.
      log("debug", "cannot check the running jobs for cancels", { error: errorText(error) });
    }
  }

  /** Stops checking, when the runtime closes. */
  stop(): void {
    this.stopped.abort();
  }
}

function settledElsewhereMessage(state: SettledJob["state"]): string {
  switch (state) {
    case "rejected_canceled":
      return "The job was cancelled.";
    case "rejected_timedout":
      return "The job timed out before it finished.";
    default:
      return "The job was finished by another process.";
  }
}

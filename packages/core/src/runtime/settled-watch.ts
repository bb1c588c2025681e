/**
 * The check that stops work here on jobs settled elsewhere: while jobs run in this process, it asks the store
 * every {@link DEFAULTS.cancelCheckMs} which of them are settled (a cancel through another process, a job
 * another process finished after a takeover) and aborts their signals.
 */
import { DEFAULTS } from "../defaults.ts";
import { log } from "../internal/log.ts";
import type { SettledJob } from "../store/store.ts";
import { errorText } from "./step-retry.ts";

/** The settled check of one engine over its running jobs. */
export class SettledWatch {
  /** The next check, while any job runs. */
  private settledCheck: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly settledAmong: (ids: readonly string[]) => Promise<SettledJob[]>;
  /** The signal of each job running here now. */
  private readonly running: () => ReadonlyMap<string, AbortController>;

  constructor(
    settledAmong: (ids: readonly string[]) => Promise<SettledJob[]>,
    running: () => ReadonlyMap<string, AbortController>,
  ) {
    this.settledAmong = settledAmong;
    this.running = running;
  }

  /** Schedules the next check for jobs settled elsewhere, unless one is due already. */
  watch(): void {
    if (this.settledCheck !== undefined || this.stopped) return;
    this.settledCheck = setTimeout(() => void this.checkSettled(), DEFAULTS.cancelCheckMs);
    this.settledCheck.unref();
  }

  /**
   * Aborts the signal of every job running here that the store holds as settled: a cancel made through
   * another process reaches the step's request and its retries within one interval. One question per
   * interval for all the jobs, and the next only once it is answered.
   */
  private async checkSettled(): Promise<void> {
    const ids = [...this.running()].filter(([, c]) => !c.signal.aborted).map(([id]) => id);
    try {
      if (ids.length > 0) {
        for (const { id, state } of await this.settledAmong(ids)) {
          const controller = this.running().get(id);
          if (controller === undefined || controller.signal.aborted) continue;
          // A cancel is news to an operator; a job another process finished (after a takeover) is not.
          const level = state === "rejected_canceled" ? "info" : "debug";
          log(level, "job settled elsewhere; stopping its work here", { job: id, state });
          controller.abort(new Error(settledElsewhereMessage(state)));
        }
      }
    } catch (error) {
      // The store is changing hands or briefly unreachable: the next check asks again.
      log("debug", "cannot check the running jobs for cancels", { error: errorText(error) });
    }
    this.settledCheck = undefined;
    if (this.running().size > 0) this.watch();
  }

  /** Stops checking, when the runtime closes. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.settledCheck);
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

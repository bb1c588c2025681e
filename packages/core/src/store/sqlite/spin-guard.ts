/**
 * The spin guard: a task that is executed again and again within seconds is being released at once by every
 * worker (its function is not registered here, say); without a pause the SDK would spin, acquiring and
 * releasing it as fast as the CPU allows. The store holds such a task's `execute` for a growing delay.
 */
import { log } from "../../internal/log.ts";

/** Executes of one task allowed within {@link SPIN_WINDOW_MS} before re-execution is slowed down. */
const SPIN_FREE_EXECUTES = 5;
const SPIN_WINDOW_MS = 2000;
const SPIN_MAX_DELAY_MS = 30_000;

/** Counts the recent executes of each task, and says how long to hold the next one. */
export class SpinGuard {
  private readonly executes = new Map<string, { since: number; count: number }>();
  private readonly path: string;

  /** `path` names the store in the warning. */
  constructor(path: string) {
    this.path = path;
  }

  /** How long to hold an `execute` of `taskId` sent at `now`, in ms (0: deliver it at once). */
  backoff(taskId: string, now: number): number {
    const recent = this.executes.get(taskId);
    if (recent === undefined || now - recent.since > SPIN_WINDOW_MS) {
      if (this.executes.size > 10_000) {
        for (const [id, entry] of this.executes)
          if (now - entry.since > SPIN_WINDOW_MS) this.executes.delete(id);
      }
      this.executes.set(taskId, { since: now, count: 1 });
      return 0;
    }
    recent.count += 1;
    if (recent.count <= SPIN_FREE_EXECUTES) return 0;
    const delay = Math.min(SPIN_MAX_DELAY_MS, 250 * 2 ** (recent.count - SPIN_FREE_EXECUTES));
    if (recent.count === SPIN_FREE_EXECUTES + 1) {
      log("warn", "a task keeps being released; slowing its re-execution", {
        store: this.path,
        task: taskId,
      });
    }
    recent.since = now;
    return delay;
  }
}

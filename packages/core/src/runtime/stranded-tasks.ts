/**
 * Tasks a store stranded by refusing a write (a full disk), retried until the store takes them: the release
 * of a failed execution, which the SDK tries once, and an `execute` message whose acquire failed, which the
 * SDK drops (patches 3 and 4 of `resonate-internals.ts`). The job resumes once writes work again.
 */
import { DEFAULTS } from "../defaults.ts";
import { log } from "../internal/log.ts";
import type { PromiseClient } from "./promise-client.ts";
import { errorText } from "./step-retry.ts";

/** The stranded tasks of one engine. */
export class StrandedTasks {
  /** Tasks whose failed execution this process keeps trying to release (`id@version`). */
  private readonly releasing = new Set<string>();
  /** Tasks whose `execute` message this process offers again after the store refused its acquire. */
  private readonly redelivering = new Set<string>();
  private readonly offered = new Set<string>();
  private stopped = false;
  private readonly promises: PromiseClient;

  constructor(promises: PromiseClient) {
    this.promises = promises;
  }

  /**
   * Keeps releasing a task whose execution failed until the store takes the release: a store that refused a
   * write (a full disk) refused the SDK's one release too, and the job would wait for its lease to lapse.
   * Once the store writes again, the release hands the task out and the job resumes, replaying finished steps.
   */
  release(id: string, version: number, error: unknown): void {
    const key = `${id}@${version}`;
    if (this.stopped || this.releasing.has(key)) return;
    this.releasing.add(key);
    // A job settled meanwhile (cancelled, timed out) refuses its execution's last write as a normal race
    // ("Fence check failed"): worth a debug line, not a warning on the user's stderr.
    void this.promises.get(id).then(
      (record) => this.logRelease(id, error, record === undefined || record.state === "pending"),
      () => this.logRelease(id, error, true),
    );
    const attempt = async () => {
      if (this.stopped) return;
      try {
        const outcome = await this.promises.releaseTask(id, version);
        this.releasing.delete(key);
        log(
          outcome === "released" ? "info" : "debug",
          `job ${outcome === "released" ? "released for another attempt" : "already released or taken"}`,
          { job: id },
        );
      } catch {
        setTimeout(() => void attempt(), DEFAULTS.strandedRetryMs).unref();
      }
    };
    setTimeout(() => void attempt(), DEFAULTS.strandedRetryMs).unref();
  }

  private logRelease(id: string, error: unknown, pending: boolean): void {
    const level = pending && !this.stopped ? "warn" : "debug";
    log(level, "job execution failed; releasing it until the store takes it back", {
      job: id,
      error: errorText(error),
    });
  }

  /**
   * Offers again an `execute` message whose acquire the store refused (a full disk): the task is pending and
   * nothing else would deliver it. Only store write failures are retried; a protocol answer (another process
   * took the task) ends it.
   */
  redeliver(taskId: string, error: unknown, retry: () => Promise<unknown>): void {
    const code = (error as { code?: unknown } | undefined)?.code;
    if (this.stopped || (code !== "STORE_IO" && code !== "STORE_UNREACHABLE")) return;
    if (this.redelivering.has(taskId)) return;
    this.redelivering.add(taskId);
    // Warn once per job, not at every offer while the disk stays full.
    const first = !this.offered.has(taskId);
    this.offered.add(taskId);
    log(first ? "warn" : "debug", "a job could not be taken on; offering it again until the store takes it", {
      job: taskId,
      error: errorText(error),
    });
    setTimeout(() => {
      this.redelivering.delete(taskId);
      // A new failure calls back here through the hook, and schedules the next offer.
      if (!this.stopped) void retry().catch(() => undefined);
    }, DEFAULTS.strandedRetryMs).unref();
  }

  /** The job's task reached an execution: a later refusal warns again. */
  delivered(taskId: string): void {
    this.offered.delete(taskId);
  }

  /** Stops retrying, when the runtime closes. */
  stop(): void {
    this.stopped = true;
  }
}

/**
 * Ends an execution whose task the store gave to another execution (its lease lapsed while this process was
 * stopped or cut off) or whose job settled: the job goes on there, so this is no failure and needs no release.
 */
export function standDown(jobId: string): void {
  log("debug", "job execution stood down: the job is no longer this execution's to run", { job: jobId });
}

/**
 * The step log of a store another process serves: every record is a request to it, so a job's timeline is
 * the same whichever process ran its steps. Writes go one after another, so they arrive in order, and reads
 * wait for them, so a process reads its own records. The log is advice, not state: a write that fails is
 * logged and the job runs on.
 */
import { log } from "../../internal/log.ts";
import type { StepRecords, StepRow } from "../store.ts";
import type { ProtocolClient } from "./protocol-client.ts";

/** A {@link StepRecords} over a served store's `asyncTools.steps.*` requests. */
export class RemoteStepLog implements StepRecords {
  private readonly client: ProtocolClient;
  /** The last write in flight. */
  private writes: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(client: ProtocolClient) {
    this.client = client;
  }

  /** Asks the owner for the attempt's number (it counts across processes and restarts). */
  async begin(jobId: string, stepId: string, name: string, now: number): Promise<number> {
    // After the writes before it, so an earlier attempt of the same step is already recorded.
    await this.writes;
    const answer = await this.client.jobs("asyncTools.steps.begin", { jobId, stepId, name, now });
    if (answer === undefined) throw new Error("the store does not keep a step log");
    return answer.attempt;
  }

  end(jobId: string, stepId: string, attempt: number, now: number, error?: string): void {
    const data = { jobId, stepId, attempt, now, ...(error === undefined ? {} : { error }) };
    this.enqueue(() => this.client.jobs("asyncTools.steps.end", data));
  }

  retryAt(jobId: string, stepId: string, attempt: number, at: number): void {
    this.enqueue(() => this.client.jobs("asyncTools.steps.retryAt", { jobId, stepId, attempt, at }));
  }

  async steps(jobId: string): Promise<StepRow[]> {
    await this.writes;
    return (await this.client.jobs("asyncTools.steps.list", { jobId }))?.steps ?? [];
  }

  async pruneBefore(before: number): Promise<number> {
    await this.writes;
    return (await this.client.jobs("asyncTools.steps.prune", { before }))?.count ?? 0;
  }

  async forget(jobId: string): Promise<void> {
    await this.writes;
    await this.client.jobs("asyncTools.steps.forget", { jobId });
  }

  /** Resolves once every write sent so far has been answered or has failed. */
  async settled(): Promise<void> {
    await this.writes;
  }

  /** Stops recording; writes already sent still complete. */
  close(): void {
    this.closed = true;
  }

  private enqueue(write: () => Promise<unknown>): void {
    if (this.closed) return;
    this.writes = this.writes
      .then(write)
      .then(() => undefined)
      .catch((error: unknown) => {
        log("warn", "step attempt not recorded; the job runs, its timeline may miss it", { error });
      });
  }
}

/**
 * What this process holds of jobs, one entry per job: from a start here that creates it, through its
 * executions here, to the end of the last one. Everything else about a job is in the store; a job with no
 * entry is simply not busy in this process.
 */
import type { TraceContext } from "../internal/trace-context.ts";
import type { JobSnapshot } from "./job.ts";
import type { StepRetry } from "./step-retry.ts";

/**
 * One job in this process. Its parts may overlap: the SDK can execute a job before the answer to its
 * creation returns.
 */
export interface LocalJob {
  /** Set by the start that creates the job here, for concurrent starts of it to wait on. */
  starting?: Promise<JobSnapshot | undefined>;
  /** During that creation: its run tag, and whether the store's answer showed this creation made the job. */
  creating?: { runTag: string; made: boolean };
  /**
   * From its creation here to its first execution, the trace it continues: that execution needs no
   * re-validation and no read of the stored trace.
   */
  launching?: { trace: TraceContext | undefined };
  /** The execution running here now. */
  pass?: Pass;
}

/** One execution (pass) of a job in this process. */
export interface Pass {
  readonly controller: AbortController;
  /**
   * Lets go of the pass's slot, deadline and signal. A pass that suspends (the job waits for an answer or a
   * durable sleep) never returns, so this also runs when the SDK reports it suspended.
   */
  readonly letGo: () => void;
  /** Whether it holds one of the tool's slots (until then the job is `queued`). */
  running: boolean;
  /** Whether it has posed a question: until it does, the job waits on none (see `mayAsk`). */
  asked: boolean;
  /** The step it is retrying now. */
  retrying?: StepRetry | undefined;
}

/** The entries of one engine. */
export class LocalJobs {
  private readonly jobs = new Map<string, LocalJob>();

  /** The entry of `id`, or `undefined` when the job is not busy here. */
  get(id: string): LocalJob | undefined {
    return this.jobs.get(id);
  }

  /** The entry of `id`, made if there is none. */
  of(id: string): LocalJob {
    let job = this.jobs.get(id);
    if (job === undefined) {
      job = {};
      this.jobs.set(id, job);
    }
    return job;
  }

  /** Takes `part` off the entry of `id`, and the entry once it holds nothing. */
  drop(id: string, part: keyof LocalJob): void {
    const job = this.jobs.get(id);
    if (job === undefined) return;
    delete job[part];
    if (Object.keys(job).length === 0) this.jobs.delete(id);
  }

  /** Lets go of the slot and signal of `id`'s last pass, which suspended (or is over). */
  unpark(id: string): void {
    this.jobs.get(id)?.pass?.letGo();
  }

  /** The signal of each pass running here: what the settled watch checks and a cancel aborts. */
  running(): Map<string, AbortController> {
    const running = new Map<string, AbortController>();
    for (const [id, job] of this.jobs) if (job.pass) running.set(id, job.pass.controller);
    return running;
  }

  /**
   * Whether the job `id` may wait on a question now, as far as this process knows. A pass that runs here,
   * holds its slot and has posed no question is not waiting on one: its snapshot needs no read of the
   * question index. Any other job (parked, queued, running elsewhere) may be.
   */
  mayAsk(id: string): boolean {
    const pass = this.jobs.get(id)?.pass;
    return pass === undefined || !pass.running || pass.asked;
  }
}

/**
 * Executions of jobs in this process: one pass of a job's function at a time, with the re-validation of a
 * resumed job's input, the tool's slot, the job's deadline and signal, and the events around it; and what
 * becomes of executions that fail for the store's sake (stranded tasks) or that the store settled elsewhere.
 */
import type { Context } from "@resonatehq/sdk/async";
import type { z } from "zod";
import type { AnyAsyncTool } from "../define.ts";
import type { JobError } from "../errors.ts";
import { jobErrorText } from "../internal/format.ts";
import { log } from "../internal/log.ts";
import type { ChangeFeed, SettledJob } from "../store/store.ts";
import type { ToolSlots } from "../store/tool-slots.ts";
import { storedJobError, traceOf } from "./job.ts";
import { type JobContextDeps, jobContextOf } from "./job-context.ts";
import type { LocalJobs, Pass } from "./local-jobs.ts";
import { type AcquiredTask, lostTask, refusedForGood } from "./resonate-internals.ts";
import { SettledWatch } from "./settled-watch.ts";
import { errorText } from "./step-retry.ts";
import { StrandedTasks, standDown } from "./stranded-tasks.ts";

/** What executions need of their engine. */
export interface ExecutionDeps extends JobContextDeps {
  readonly jobs: LocalJobs;
  /** The concurrency slots of the tool `name`. */
  slots(name: string): ToolSlots;
}

/** The executions of one engine. */
export class Executions {
  private readonly deps: ExecutionDeps;
  /** Tasks stranded by a store that refused a write, retried until the store takes them. */
  private readonly stranded: StrandedTasks;
  /** Checks for jobs of this process settled elsewhere, while any runs. */
  private readonly settledWatch: SettledWatch | undefined;
  private stopped = false;

  /**
   * `settled` answers which of the jobs this process runs the store holds as settled (see `Store.settled`):
   * asked while jobs run, when `changes` (the store's change feed) says one of them changed, so a cancel made
   * elsewhere stops them here.
   */
  constructor(
    deps: ExecutionDeps,
    settled?: (ids: readonly string[]) => Promise<SettledJob[]>,
    changes?: ChangeFeed,
  ) {
    this.deps = deps;
    this.stranded = new StrandedTasks(deps.promises);
    this.settledWatch =
      settled === undefined ? undefined : new SettledWatch(settled, () => deps.jobs.running(), changes);
  }

  /** Stops background work (releases of failed executions, checks for cancels) when the runtime closes. */
  stop(): void {
    this.stopped = true;
    this.stranded.stop();
    this.settledWatch?.stop();
  }

  /**
   * An execution of `task` threw: it lost its task to another, the store refused one of its requests for good
   * (the job fails), or the store refused a write (retried).
   */
  failed(task: AcquiredTask, error: unknown): void {
    const refused = refusedForGood(error);
    if (lostTask(error)) standDown(task.id);
    else if (refused !== undefined) void this.failRefused(task.id, refused, error);
    else this.stranded.release(task.id, task.version, error);
  }

  /**
   * Fails the job `id`, whose execution the store refused with `status`: the same request would be refused at
   * every attempt, and the SDK's release hands the task straight back, so retrying spins (a pass every few
   * milliseconds, for good). A failed job says why; the store's protocol is what needs fixing.
   */
  private async failRefused(id: string, status: number, error: unknown): Promise<void> {
    const message =
      `the store refused a request of this job with ${status} (${errorText(error)}), and would at every ` +
      "attempt: the job cannot go on. This is a bug of async-tools or of the store's protocol: please report it.";
    const failed = await this.deps.promises
      .reject(id, storedJobError({ code: "failed", message }))
      .catch(() => false);
    if (failed) log("error", "job failed: the store refused its request for good", { job: id, status });
  }

  /** An `execute` message whose task the store refused to hand over: offered again until it takes. */
  undelivered(taskId: string, error: unknown, retry: () => Promise<unknown>): void {
    this.stranded.redeliver(taskId, error, retry);
  }

  /** Runs one pass of the job `rctx.id` of `tool` here: the body of the tool's durable function. */
  async run(tool: AnyAsyncTool, rctx: Context, raw: unknown): Promise<unknown> {
    const { jobs, emit } = this.deps;
    const id = rctx.id;
    this.stranded.delivered(id);
    let input = raw;
    const launch = jobs.get(id)?.launching;
    const resumed = launch === undefined;
    let trace = launch?.trace;
    if (!resumed) {
      // Launched by this process a moment ago: validated by start.
      jobs.drop(id, "launching");
    } else {
      trace = traceOf(await this.deps.promises.get(id).catch(() => undefined));
      // A resume, after a restart or a takeover: the code may have changed since the job was accepted.
      const checked = (tool.input as z.ZodObject).safeParse(raw);
      if (!checked.success) {
        const issues = checked.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
        const error: JobError = { code: "input_mismatch", version: tool.version, issues };
        emit({
          kind: "failed",
          jobId: id,
          tool: tool.name,
          error: jobErrorText({ jobId: id, error }),
          trace,
        });
        throw storedJobError(error);
      }
      input = checked.data;
      emit({ kind: "resumed", jobId: id, tool: tool.name, trace });
    }
    const watch = this.deps.observer.execution({ jobId: id, tool: tool.name, resumed, trace });
    let failure: unknown;
    // A new pass of a job means its last one is over, even if that one's frame never returned (it suspended).
    jobs.unpark(id);
    const controller = new AbortController();
    const began = Date.now();
    // The store fails a job at its timeout; its function must stop too (the step's request, its retries).
    const left = rctx.timeoutAt - began;
    const timedOut = () =>
      jobErrorText({ jobId: id, error: { code: "timed_out", timeoutMs: tool.timeoutMs } });
    const deadline =
      left < MAX_TIMER_MS
        ? setTimeout(() => controller.abort(new Error(timedOut())), Math.max(0, left))
        : undefined;
    deadline?.unref();
    let release: (() => void) | undefined;
    // A pass that suspends (the job waits for an answer or a durable sleep) never returns here: its frame is
    // dropped, and `letGo` runs when the SDK reports it, so a parked job holds no slot.
    const pass: Pass = {
      controller,
      running: false,
      asked: false,
      letGo: () => {
        clearTimeout(deadline);
        release?.();
        if (jobs.get(id)?.pass === pass) jobs.drop(id, "pass");
      },
    };
    jobs.of(id).pass = pass;
    this.settledWatch?.watch();
    try {
      release = await this.deps.slots(tool.name).acquire(id, controller.signal);
      pass.running = true;
      const result = await tool.run(jobContextOf(rctx, tool, pass, trace, this.deps), input as never);
      emit({ kind: "completed", jobId: id, tool: tool.name, durationMs: Date.now() - began, trace });
      return result;
    } catch (error) {
      failure = error;
      // A cancelled job is logged by cancel; one cut short by this runtime closing resumes at the next start.
      const base = { job: id, tool: tool.name };
      if (this.stopped) log("debug", "job interrupted by shutdown", base);
      else if (controller.signal.aborted) {
        log("debug", "job execution stopped", { ...base, reason: errorText(controller.signal.reason) });
      } else if (lostTask(error)) {
        // An execution that lost its task to another one is not a failure of the job (the hook logs it).
      } else if (await this.stillPending(id)) {
        const durationMs = Date.now() - began;
        emit({ kind: "failed", jobId: id, tool: tool.name, error: errorText(error), durationMs, trace });
      } else {
        // Settled elsewhere before the next check heard of it: the store refused the step's result.
        log("debug", "job execution ended: the job was settled elsewhere", {
          ...base,
          error: errorText(error),
        });
      }
      throw error;
    } finally {
      watch?.end(failure);
      pass.letGo();
    }
  }

  /**
   * Whether the job `id` is still pending in the store. An execution that fails after the job was settled
   * elsewhere (a cancel this process had not heard of yet: the store refuses the step's result with "Fence
   * check failed") did not fail the job; a store that cannot answer leaves the failure as it is.
   */
  private async stillPending(id: string): Promise<boolean> {
    try {
      const record = await this.deps.promises.get(id);
      return record === undefined || record.state === "pending";
    } catch {
      return true;
    }
  }
}

/** `setTimeout` fires at once past this delay (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

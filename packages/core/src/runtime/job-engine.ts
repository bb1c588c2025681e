/**
 * The job model over Resonate durable promises: a job is a root durable promise whose ID is the job ID.
 * Starting, reading, waiting for, cancelling and listing jobs live here, in camelCase TypeScript that knows
 * nothing of MCP. Per job it adds what promises do not hold: the tool (a promise tag), progress (the job
 * index), its place in the tool's queue and the step being retried (this process's memory).
 */
import { randomUUID } from "node:crypto";
import { Never } from "@resonatehq/sdk";
import type { Context, Resonate } from "@resonatehq/sdk/async";
import type { z } from "zod";
import { DEFAULTS } from "../defaults.ts";
import { type AnyAsyncTool, baseJobIdOf, type JobContext } from "../define.ts";
import { AsyncToolsError } from "../errors.ts";
import { log } from "../internal/log.ts";
import type { SettledJob } from "../store/settled-jobs.ts";
import type { JobIndex } from "../store/store.ts";
import { combineObservers, type JobEvent, type JobObserver, logJobEvent } from "./job-events.ts";
import { defaultJobId, principalSuffix, runId } from "./job-id.ts";
import type { PromiseClient, PromiseRecord } from "./promise-client.ts";
import { type AnswerOutcome, type Question, Questions, questionContext } from "./questions.ts";
import {
  type CreateOutcome,
  installExecutionHooks,
  lostTask,
  memoizeTargets,
  observeTaskCreate,
  speedUpCodec,
} from "./resonate-internals.ts";
import { Slots } from "./slots.ts";
import { errorText, runWithRetries, type StepRetry } from "./step-retry.ts";

/**
 * A job's state. `queued`, `working` and `input_required` (waiting for the answer to a question) are
 * unfinished; the others are final or unknown.
 */
export type JobStatus = (typeof JOB_STATUSES)[number];

/** Every {@link JobStatus}, unfinished ones first. */
export const JOB_STATUSES = [
  "queued",
  "working",
  "input_required",
  "completed",
  "failed",
  "cancelled",
  "not_found",
  "expired",
] as const;

/** What probe and await report about one job; `R` is the result's type. Times are ISO 8601. */
export interface JobSnapshot<R = unknown> {
  jobId: string;
  status: JobStatus;
  /** The async tool (definition name) the job belongs to. */
  tool?: string;
  createdAt?: string;
  completedAt?: string;
  /** Latest progress reported by the job's function. */
  progress?: { fraction: number; message?: string; updatedAt: string };
  /** For a `queued` job: its 1-based place among the tool's waiting jobs in this process. */
  queuePosition?: number;
  /** For a working job whose step failed and will be tried again. */
  retrying?: { step: string; attempt: number; attempts: number; error: string; nextAttemptAt: string };
  /** For an `input_required` job: the questions it waits on, to answer with `answer`. */
  questions?: Question[];
  /** Why the job failed, was cancelled, or cannot be found. Never a stack trace. */
  error?: string;
  /** The result, for completed jobs, when asked for. */
  result?: R;
}

/** Which jobs {@link JobEngine.list} returns. */
export interface ListOptions {
  /** Only jobs of this async tool. */
  tool?: string;
  /** Only jobs in this status (or these). */
  status?: JobStatus | readonly JobStatus[];
  /** Only jobs started at or after this time: epoch ms or a Date. */
  since?: number | Date;
  /** The `next` of the previous page. */
  cursor?: number;
  /** Most jobs in the page. */
  limit?: number;
}

/** A job that `start` created or joined. */
export type StartedJob<R = unknown> = JobSnapshot<R> & { created: boolean };

/** Whether a job in `status` may still change. */
export function isUnfinished(status: JobStatus): boolean {
  return status === "queued" || status === "working" || status === "input_required";
}

/**
 * Who asks. With a principal (an authenticated caller), a job belongs to it: the principal is part of the
 * job's identity, and every read by another principal (or by none) answers `not_found`. Without one, there is
 * a single caller and job IDs are what they always were.
 */
export interface CallerScope {
  principal?: string;
  /** Every principal's jobs: the operator's view (the CLI, an operator's dashboard). Never from a client. */
  everyone?: boolean;
}

/** Options of {@link JobEngine.wait}. */
export interface WaitOptions extends CallerScope {
  signal?: AbortSignal;
  /** Called at once and then every `tickMs` while jobs are unfinished, with their current state. */
  onTick?: (snapshots: JobSnapshot[]) => void;
  tickMs?: number;
}

/** The promise tag naming the async tool of a job. */
export const TOOL_TAG = "async-tools:tool";
/** The principal a job belongs to, when it was started by an authenticated caller. */
export const PRINCIPAL_TAG = "async-tools:principal";
/** A random value per creation, which tells a promise this process made from one that was there already. */
export const RUN_TAG = "async-tools:run";

/** Runs and observes jobs of registered definitions on one Resonate instance. */
export class JobEngine {
  private readonly versions = new Map<string, Map<number, AnyAsyncTool>>();
  private readonly latest = new Map<string, AnyAsyncTool>();
  private readonly slots = new Map<string, Slots>();
  private readonly running = new Map<string, AbortController>();
  private readonly retrying = new Map<string, StepRetry>();
  private readonly starting = new Map<string, Promise<JobSnapshot | undefined>>();
  /** The run tag of each job this process is creating right now, and those its creation made. */
  private readonly creating = new Map<string, string>();
  private readonly created = new Set<string>();
  /** Jobs this process is launching right now: their first execution needs no re-validation. */
  private readonly launching = new Set<string>();
  /** Tasks whose failed execution this process keeps trying to release (`id@version`). */
  private readonly releasing = new Set<string>();
  /** Tasks whose `execute` message this process offers again after the store refused its acquire. */
  private readonly redelivering = new Set<string>();
  private readonly offered = new Set<string>();
  /** The next check for jobs of this process settled elsewhere, while any runs. */
  private settledCheck: NodeJS.Timeout | undefined;
  private stopped = false;

  private readonly resonate: Resonate;
  private readonly promises: PromiseClient;
  private readonly meta: JobIndex;
  private readonly observer: Required<JobObserver>;
  private readonly settledAmong: ((ids: readonly string[]) => Promise<SettledJob[]>) | undefined;
  private readonly questions: Questions;
  /** How to let go of each execution's slot and signal when its pass suspends (parked on a question, a sleep). */
  private readonly parking = new Map<string, () => void>();

  /**
   * `settled` answers which of the jobs this process runs the store holds as settled (see `Store.settled`):
   * asked every {@link DEFAULTS.cancelCheckMs} while jobs run, so a cancel made elsewhere stops them here.
   */
  constructor(
    resonate: Resonate,
    promises: PromiseClient,
    meta: JobIndex,
    observers: JobObserver[] = [],
    settled?: (ids: readonly string[]) => Promise<SettledJob[]>,
  ) {
    this.resonate = resonate;
    this.promises = promises;
    this.meta = meta;
    this.observer = combineObservers(observers);
    this.settledAmong = settled;
    this.questions = new Questions(promises);
    memoizeTargets(resonate);
    speedUpCodec((resonate as unknown as { codec?: unknown }).codec);
    observeTaskCreate(resonate, (outcome) => this.onCreateOutcome(outcome));
    installExecutionHooks(resonate, {
      unregistered: (func, version) => {
        const known = this.versions.get(func);
        if (known === undefined) return undefined;
        const have = [...known.keys()].sort((a, b) => a - b).join(", ");
        return (
          `This job was started by version ${version} of ${func}, which this server no longer runs ` +
          `(it runs version ${have}). Start it again to run it on the current version.`
        );
      },
      failed: (task, error) => {
        if (lostTask(error)) standDown(task.id);
        else this.releaseUntilTaken(task.id, task.version, error);
      },
      undelivered: (taskId, error, retry) => this.redeliverUntilTaken(taskId, error, retry),
      suspended: (taskId) => this.unpark(taskId),
    });
  }

  /**
   * Registers the durable function of `tool` with Resonate. Several versions of one name may be registered;
   * new jobs run on the highest. The same name and version twice throws `DUPLICATE_TOOL`.
   */
  define(tool: AnyAsyncTool): void {
    const versions = this.versions.get(tool.name) ?? new Map<number, AnyAsyncTool>();
    if (versions.has(tool.version)) {
      throw new AsyncToolsError(
        "DUPLICATE_TOOL",
        `Async tool ${tool.name} (version ${tool.version}) is defined twice. Give each definition its own ` +
          "name, or a higher version to run new jobs on new code while old jobs finish on the old.",
      );
    }
    versions.set(tool.version, tool);
    this.versions.set(tool.name, versions);
    const current = this.latest.get(tool.name);
    if (current === undefined || current.version < tool.version) this.latest.set(tool.name, tool);
    if (!this.slots.has(tool.name)) this.slots.set(tool.name, new Slots(tool.concurrency));
    const engine = this;
    const durable = async function durable(rctx: Context, input: unknown) {
      return engine.execute(tool, rctx, input);
    };
    this.resonate.register(tool.name, durable, { version: tool.version });
  }

  /**
   * Keeps releasing a task whose execution failed until the store takes the release: a store that refused a
   * write (a full disk) refused the SDK's one release too, and the job would wait for its lease to lapse.
   * Once the store writes again, the release hands the task out and the job resumes, replaying finished steps.
   */
  private releaseUntilTaken(id: string, version: number, error: unknown): void {
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
  private redeliverUntilTaken(taskId: string, error: unknown, retry: () => Promise<unknown>): void {
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

  /** Stops background work (releases of failed executions, checks for cancels) when the runtime closes. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.settledCheck);
  }

  /** Schedules the next check for jobs settled elsewhere, unless one is due already. */
  private watchSettled(): void {
    if (this.settledAmong === undefined || this.settledCheck !== undefined || this.stopped) return;
    this.settledCheck = setTimeout(() => void this.checkSettled(), DEFAULTS.cancelCheckMs);
    this.settledCheck.unref();
  }

  /**
   * Aborts the signal of every job running here that the store holds as settled: a cancel made through
   * another process reaches the step's request and its retries within one interval. One question per
   * interval for all the jobs, and the next only once it is answered.
   */
  private async checkSettled(): Promise<void> {
    const ids = [...this.running].filter(([, c]) => !c.signal.aborted).map(([id]) => id);
    const settledAmong = this.settledAmong;
    try {
      if (ids.length > 0 && settledAmong !== undefined) {
        for (const { id, state } of await settledAmong(ids)) {
          const controller = this.running.get(id);
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
    if (this.running.size > 0) this.watchSettled();
  }

  /** The newest definition registered under `name`. */
  definition(name: string): AnyAsyncTool | undefined {
    return this.latest.get(name);
  }

  /** Every newest definition, in registration order. */
  definitions(): AnyAsyncTool[] {
    return [...this.latest.values()];
  }

  private async execute(tool: AnyAsyncTool, rctx: Context, raw: unknown): Promise<unknown> {
    const id = rctx.id;
    this.offered.delete(id);
    let input = raw;
    if (this.launching.delete(id)) {
      // Launched by this process a moment ago: validated by start.
    } else {
      // A resume, after a restart or a takeover: the code may have changed since the job was accepted.
      const checked = (tool.input as z.ZodObject).safeParse(raw);
      if (!checked.success) {
        const issues = checked.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
        const message =
          `The input of job ${id} no longer matches ${tool.name} version ${tool.version} (${issues.join("; ")}). ` +
          "Start it again with arguments the current version accepts.";
        this.emit({ kind: "failed", jobId: id, tool: tool.name, error: message });
        throw new Error(message);
      }
      input = checked.data;
      this.emit({ kind: "resumed", jobId: id, tool: tool.name });
    }
    // A new pass of a job means its last one is over, even if that one's frame never returned (it suspended).
    this.unpark(id);
    const controller = new AbortController();
    this.running.set(id, controller);
    this.watchSettled();
    const began = Date.now();
    // The store fails a job at its timeout; its function must stop too (the step's request, its retries).
    const left = rctx.timeoutAt - began;
    const deadline =
      left < MAX_TIMER_MS
        ? setTimeout(() => controller.abort(new Error(timedOutMessage(tool.timeoutMs))), Math.max(0, left))
        : undefined;
    deadline?.unref();
    const slots = this.slots.get(tool.name) as Slots;
    let release: (() => void) | undefined;
    // A pass that suspends (the job waits for an answer or a durable sleep) never returns here: its frame is
    // dropped. The hook lets go of what it held, so a parked job holds no slot.
    const letGo = () => {
      clearTimeout(deadline);
      release?.();
      this.retrying.delete(id);
      if (this.running.get(id) === controller) this.running.delete(id);
    };
    this.parking.set(id, letGo);
    try {
      release = await slots.acquire(id, controller.signal);
      const result = await tool.run(this.jobContext(rctx, tool, controller.signal), input as never);
      this.emit({ kind: "completed", jobId: id, tool: tool.name, durationMs: Date.now() - began });
      return result;
    } catch (error) {
      // A cancelled job is logged by cancel; one cut short by this runtime closing resumes at the next start.
      const base = { job: id, tool: tool.name };
      if (this.stopped) log("debug", "job interrupted by shutdown", base);
      else if (controller.signal.aborted) {
        log("debug", "job execution stopped", { ...base, reason: errorText(controller.signal.reason) });
      } else if (lostTask(error)) {
        // An execution that lost its task to another one is not a failure of the job (the hook logs it).
      } else if (await this.stillPending(id)) {
        const durationMs = Date.now() - began;
        this.emit({ kind: "failed", jobId: id, tool: tool.name, error: errorText(error), durationMs });
      } else {
        // Settled elsewhere before the next check heard of it: the store refused the step's result.
        log("debug", "job execution ended: the job was settled elsewhere", {
          ...base,
          error: errorText(error),
        });
      }
      throw error;
    } finally {
      letGo();
      if (this.parking.get(id) === letGo) this.parking.delete(id);
    }
  }

  /** Lets go of the slot and signal of `id`'s last pass, which suspended. */
  private unpark(id: string): void {
    const letGo = this.parking.get(id);
    this.parking.delete(id);
    letGo?.();
  }

  /**
   * Whether the job `id` is still pending in the store. An execution that fails after the job was settled
   * elsewhere (a cancel this process had not heard of yet: the store refuses the step's result with "Fence
   * check failed") did not fail the job; a store that cannot answer leaves the failure as it is.
   */
  private async stillPending(id: string): Promise<boolean> {
    try {
      const record = await this.promises.get(id);
      return record === undefined || record.state === "pending";
    } catch {
      return true;
    }
  }

  /** Tells the logs and the observers. */
  private emit(event: JobEvent): void {
    logJobEvent(event);
    this.observer.onJob(event);
  }

  private jobContext(rctx: Context, tool: AnyAsyncTool, signal: AbortSignal): JobContext {
    const engine = this;
    const meta = this.meta;
    const retrying = this.retrying;
    const jobId = rctx.id;
    const stepOptions = rctx.options({ retryPolicy: new Never() });
    return {
      ...questionContext(rctx, this.promises),
      jobId,
      signal,
      resonate: rctx,
      run<T>(name: string, fn: () => T | Promise<T>) {
        // Runs only when the step executes: replay takes a finished step's result without calling it.
        const attempt = async (step: { id: string }) => {
          const watch = engine.observer.step(jobId, tool.name, step.id, name);
          try {
            return await runWithRetries(name, watch ? () => watch.attempt(fn) : fn, tool.retry, {
              signal,
              onRetry: (retry) => {
                retrying.set(jobId, retry);
                watch?.retried(retry);
                engine.emit({ kind: "step-retried", jobId, tool: tool.name, retry });
              },
            });
          } finally {
            retrying.delete(jobId);
          }
        };
        const step = { [name]: attempt }[name] as (step: { id: string }) => Promise<T>;
        return rctx.run(step, stepOptions) as Promise<Awaited<T>>;
      },
      sleep(ms: number) {
        return rctx.sleep(ms);
      },
      progress(fraction: number, message?: string) {
        const clamped = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
        try {
          meta.progress(jobId, tool.name, clamped, message?.slice(0, DEFAULTS.maxMessageChars), Date.now());
        } catch (error) {
          // Progress is advice, not state: a store that cannot take it must not fail the job.
          log("warn", "progress not stored", { job: jobId, error });
        }
      },
    };
  }

  /**
   * Starts a job for validated `input`, or joins the one the same input already started. A cancelled job is
   * followed by a fresh run; `fresh` starts a new run even when the last one finished.
   */
  async start(
    tool: AnyAsyncTool,
    input: unknown,
    options: { fresh?: boolean } & CallerScope = {},
  ): Promise<StartedJob> {
    const { principal } = options;
    // Jobs are started (and joined) as their principal only, never in an operator's scope.
    const owner: CallerScope = principal === undefined ? {} : { principal };
    const base =
      principal === undefined
        ? baseJobIdOf(tool, input, defaultJobId)
        : // Another principal's same input is another job: the principal joins the hash (or, for a custom ID, a suffix).
          baseJobIdOf(tool, input, (name, value) => defaultJobId(name, value, principal)) +
          (tool.jobId === undefined ? "" : principalSuffix(principal));
    // `fresh` skips every run there is; otherwise a cancelled run is followed by a new one, and another
    // principal's job under this ID (a custom ID that happens to match) is never joined.
    const skip = (record: PromiseRecord) =>
      options.fresh === true || record.state === "rejected_canceled" || !ownedBy(record, owner);
    for (let n = 1, vanished = 0; n <= DEFAULTS.maxRuns; ) {
      const id = runId(base, n);
      // Concurrent starts of one job in this process: the first creates it, the others wait and then join it.
      const inflight = this.starting.get(id);
      if (inflight !== undefined) {
        await inflight.catch(() => undefined);
      } else {
        if (options.fresh) {
          const before = await this.promises.get(id);
          if (before !== undefined) {
            n += 1;
            continue;
          }
        }
        // Create first and read only when the job was there already: a new job costs one request to the
        // store, not two (a process that joined a store over HTTP pays each in a round trip).
        const creation = this.create(tool, id, input, principal);
        this.starting.set(id, creation);
        let created: JobSnapshot | undefined;
        try {
          created = await creation;
        } finally {
          this.starting.delete(id);
        }
        if (created !== undefined) return { ...created, created: true };
      }
      const existing = await this.promises.get(id);
      if (existing === undefined) {
        // Gone between the store's "exists" and this read (the retention sweep removed it): create it again.
        if (vanished++ < DEFAULTS.maxRuns) continue;
        throw new Error(`job ${id} keeps vanishing from the store as it starts; retry the start`);
      }
      if (skip(existing)) {
        n += 1;
        continue;
      }
      return { ...(await this.toSnapshot(existing, false)), created: false };
    }
    throw new Error(`job ${base} has been run ${DEFAULTS.maxRuns} times; refusing to start another`);
  }

  /**
   * Creates the job `id`, or finds it there already: the snapshot of the new job, or `undefined` when the
   * store had the promise (whose pending task, if any, this process may now be running).
   */
  private async create(
    tool: AnyAsyncTool,
    id: string,
    input: unknown,
    principal: string | undefined,
  ): Promise<JobSnapshot | undefined> {
    const now = Date.now();
    const nonce = randomUUID();
    this.launching.add(id);
    this.creating.set(id, nonce);
    let made = false;
    try {
      await this.resonate.run(
        id,
        tool.name,
        input,
        this.resonate.options({
          timeout: tool.timeoutMs,
          version: tool.version,
          retryPolicy: new Never(),
          tags: {
            [TOOL_TAG]: tool.name,
            [RUN_TAG]: nonce,
            ...(principal === undefined ? {} : { [PRINCIPAL_TAG]: principal }),
          },
        }),
      );
      made = this.created.delete(id);
    } catch (error) {
      this.launching.delete(id);
      throw error;
    } finally {
      this.creating.delete(id);
      this.created.delete(id);
    }
    if (!made) return undefined;
    // The durable promise is the job; its metadata row comes second and off the answer's path, so a store
    // that refuses the job (a full disk) leaves nothing behind, and a row that cannot be written costs
    // listing, never the job.
    this.meta.recordSoon(id, tool.name, now, principal ?? "");
    this.emit({ kind: "started", jobId: id, tool: tool.name });
    const snapshot: JobSnapshot = { jobId: id, status: "working", tool: tool.name, createdAt: iso(now) };
    const place = this.slots.get(tool.name)?.position(id);
    if (place !== undefined) Object.assign(snapshot, { status: "queued", queuePosition: place });
    return snapshot;
  }

  /**
   * What a creation of this process found ({@link observeTaskCreate}), before the SDK executes anything: a
   * job that was there already is not "launched" by this start, so its first execution here re-validates
   * the stored input like any resumed job.
   */
  private onCreateOutcome(outcome: CreateOutcome): void {
    const nonce = this.creating.get(outcome.id);
    if (nonce === undefined) return;
    if (outcome.stored?.[RUN_TAG] === nonce) this.created.add(outcome.id);
    else this.launching.delete(outcome.id);
  }

  /** The current state of `id`; with `withResult`, a completed job carries its result. */
  async snapshot(id: string, withResult = false, scope: CallerScope = {}): Promise<JobSnapshot> {
    const record = await this.promises.get(id);
    if (record !== undefined && !ownedBy(record, scope)) return notFound(id);
    if (record === undefined) {
      const row = await this.meta.get(id);
      // The job index does not record principals, so an expired job's owner is unknown: to a principal it is
      // not found, which tells nothing about another principal's jobs.
      if (row !== undefined && scope.principal === undefined) {
        return {
          jobId: id,
          status: "expired",
          tool: row.tool,
          createdAt: iso(row.createdAt),
          error:
            "This job finished long ago and its result was removed by the retention policy. Start it again.",
        };
      }
      return notFound(id);
    }
    return this.toSnapshot(record, withResult);
  }

  /**
   * Waits until every job in `ids` is done or `timeoutMs` elapses, whichever comes first, then reports
   * each with its result. Never throws for "not yet": unfinished jobs come back `queued` or `working`.
   */
  async wait(ids: string[], timeoutMs: number, options: WaitOptions = {}): Promise<JobSnapshot[]> {
    const scope = scopeOf(options);
    const snapshots = await Promise.all(ids.map((id) => this.snapshot(id, true, scope)));
    const pending = snapshots.filter((s) => isUnfinished(s.status)).map((s) => s.jobId);
    // A job waiting for an answer will not finish by waiting: the caller has a question to pass on.
    const asking = snapshots.some((s) => s.status === "input_required");
    if (pending.length === 0 || timeoutMs <= 0 || asking) return snapshots;

    let timer: NodeJS.Timeout | undefined;
    let ticker: NodeJS.Timeout | undefined;
    const finished = Promise.all(pending.map((id) => this.settled(id)));
    let asked: NodeJS.Timeout | undefined;
    const elapsed = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      options.signal?.addEventListener("abort", () => resolve(), { once: true });
      // Any process may be running the job: its store is where a new question shows.
      const look = () => {
        asked = setTimeout(() => {
          void Promise.all(pending.map((id) => this.questions.pending(id))).then(
            (open) => (open.some((q) => q.length > 0) ? resolve() : look()),
            () => look(),
          );
        }, DEFAULTS.askCheckMs);
      };
      look();
    });
    if (options.onTick) {
      const onTick = options.onTick;
      onTick(snapshots);
      ticker = setInterval(() => {
        void Promise.all(ids.map((id) => this.snapshot(id, false, scope))).then(onTick, () => undefined);
      }, options.tickMs ?? DEFAULTS.progressTickMs);
    }
    try {
      await Promise.race([finished, elapsed]);
    } finally {
      clearTimeout(timer);
      clearTimeout(asked);
      clearInterval(ticker);
    }
    return Promise.all(ids.map((id) => this.snapshot(id, true, scope)));
  }

  /** Resolves once `id` is settled (any way), through Resonate's listener mechanism. */
  private async settled(id: string): Promise<void> {
    try {
      const handle = await this.resonate.get(id);
      await handle.result();
    } catch {
      // A rejected, cancelled or timed-out job is settled too.
    }
  }

  /** Cancels a job that is still unfinished. A job that already finished is left as it is. */
  async cancel(
    id: string,
    reason = "cancelled by the client",
    scope: CallerScope = {},
  ): Promise<JobSnapshot> {
    const record = await this.promises.get(id);
    if (record === undefined || !ownedBy(record, scope)) return this.snapshot(id, false, scope);
    if (record.state === "pending") {
      await this.promises.cancel(id, reason);
      this.running.get(id)?.abort(new Error(reason));
      this.emit({ kind: "cancelled", jobId: id, tool: record.tags?.[TOOL_TAG], reason });
    }
    return this.snapshot(id, false, scope);
  }

  /**
   * Answers open questions of the job `id` (question ID → answer): some of them, or all. Another principal's
   * job is `not_found`, exactly like an unknown one; a finished job, an unknown question or an answer its
   * schema refuses is `invalid`, and nothing is delivered.
   */
  async answer(
    id: string,
    answers: Readonly<Record<string, unknown>>,
    scope: CallerScope = {},
  ): Promise<AnswerOutcome> {
    const record = await this.promises.get(id);
    if (record === undefined || !ownedBy(record, scope)) return { status: "not_found" };
    if (record.state !== "pending") {
      return { status: "invalid", reason: `Job ${id} is ${statusOf(record.state)}; it asks nothing now.` };
    }
    return this.questions.answer(id, answers);
  }

  /**
   * Jobs in start order after `cursor` (opaque), optionally of one tool, in some statuses, started at or
   * after `since` (epoch ms). Status is the promise's, so filtered pages read on until `limit` jobs match;
   * each read asks only for as many rows as are still missing, so the cursor always ends on a read row.
   * Other principals' jobs are left out, like jobs of other statuses.
   */
  async list(
    options: Omit<ListOptions, "limit"> & CallerScope & { limit: number },
  ): Promise<{ jobs: JobSnapshot[]; next?: number }> {
    const scope = scopeOf(options);
    const statuses = options.status === undefined ? undefined : new Set([options.status].flat());
    const jobs: JobSnapshot[] = [];
    let cursor = options.cursor;
    for (;;) {
      const page = await this.meta.list({
        limit: options.limit - jobs.length,
        ...(options.tool === undefined ? {} : { tool: options.tool }),
        // Only the caller's rows (and rows that predate principals in the index): others' are never read.
        ...(scope.everyone === true ? {} : { principal: scope.principal ?? "" }),
        ...(cursor === undefined ? {} : { cursor }),
      });
      const rows =
        options.since === undefined
          ? page.rows
          : page.rows.filter((r) => r.createdAt >= Number(options.since));
      const read = (await Promise.all(rows.map((row) => this.snapshot(row.id, false, scope)))).filter(
        (job) => job.status !== "not_found",
      );
      jobs.push(...(statuses === undefined ? read : read.filter((job) => statuses.has(job.status))));
      cursor = page.next;
      if (cursor === undefined) return { jobs };
      if (jobs.length >= options.limit) return { jobs, next: cursor };
    }
  }

  private async toSnapshot(record: PromiseRecord, withResult: boolean): Promise<JobSnapshot> {
    const tool = record.tags?.[TOOL_TAG];
    const snapshot: JobSnapshot = { jobId: record.id, status: statusOf(record.state) };
    if (tool !== undefined) snapshot.tool = tool;
    if (record.createdAt !== undefined) snapshot.createdAt = iso(record.createdAt);
    if (record.state !== "pending" && record.settledAt !== undefined)
      snapshot.completedAt = iso(record.settledAt);
    const progress = (await this.meta.get(record.id))?.progress;
    if (progress !== undefined) {
      snapshot.progress = {
        fraction: record.state === "resolved" ? 1 : progress.fraction,
        ...(progress.message !== undefined ? { message: progress.message } : {}),
        updatedAt: iso(progress.updatedAt),
      };
    }
    switch (record.state) {
      case "pending": {
        const place = tool === undefined ? undefined : this.slots.get(tool)?.position(record.id);
        if (place !== undefined) {
          snapshot.status = "queued";
          snapshot.queuePosition = place;
        }
        const retry = this.retrying.get(record.id);
        if (retry !== undefined) snapshot.retrying = { ...retry, nextAttemptAt: iso(retry.nextAttemptAt) };
        const questions = await this.questions.pending(record.id);
        if (questions.length > 0) {
          snapshot.status = "input_required";
          snapshot.questions = questions;
          delete snapshot.queuePosition;
        }
        break;
      }
      case "resolved":
        if (withResult) snapshot.result = this.promises.value(record);
        break;
      case "rejected":
        snapshot.error = errorMessage(this.promises.value(record));
        break;
      case "rejected_canceled": {
        const reason = this.promises.value(record);
        snapshot.error = typeof reason === "string" && reason !== "" ? reason : "cancelled";
        break;
      }
      case "rejected_timedout": {
        const seconds = record.createdAt
          ? Math.round((record.timeoutAt - record.createdAt) / 1000)
          : undefined;
        snapshot.error = `The job timed out${seconds ? ` after ${seconds} s` : ""} before it finished.`;
        break;
      }
    }
    return snapshot;
  }
}

/**
 * Ends an execution whose task the store gave to another execution (its lease lapsed while this process was
 * stopped or cut off) or whose job settled: the job goes on there, so this is no failure and needs no release.
 */
function standDown(jobId: string): void {
  log("debug", "job execution stood down: the job is no longer this execution's to run", { job: jobId });
}

/**
 * Whether the caller in `scope` may see the job `record` is: the same principal, or none on both sides; an
 * operator's scope sees every job.
 */
function ownedBy(record: PromiseRecord, scope: CallerScope): boolean {
  return scope.everyone === true || record.tags?.[PRINCIPAL_TAG] === scope.principal;
}

/** Just the scope of `options` (no `principal: undefined`, for exactOptionalPropertyTypes). */
function scopeOf(options: CallerScope): CallerScope {
  if (options.everyone === true) return { everyone: true };
  return options.principal === undefined ? {} : { principal: options.principal };
}

function notFound(id: string): JobSnapshot {
  return { jobId: id, status: "not_found", error: `No job has the ID ${id}.` };
}

/** `setTimeout` fires at once past this delay (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

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

function timedOutMessage(timeoutMs: number): string {
  return `The job timed out after ${Math.round(timeoutMs / 1000)} s before it finished.`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function statusOf(state: PromiseRecord["state"]): JobStatus {
  switch (state) {
    case "pending":
      return "working";
    case "resolved":
      return "completed";
    case "rejected_canceled":
      return "cancelled";
    default:
      return "failed";
  }
}

function errorMessage(value: unknown): string {
  if (value instanceof Error) return value.message || value.name;
  if (typeof value === "string") return value;
  if (value && typeof value === "object" && "message" in value) return String(value.message);
  if (value === undefined) return "The job failed.";
  return JSON.stringify(value);
}

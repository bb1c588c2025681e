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
import type { AnyAsyncTool } from "../define.ts";
import { AsyncToolsError, type JobError } from "../errors.ts";
import { jobErrorText } from "../internal/format.ts";
import { log } from "../internal/log.ts";
import type { TraceContext } from "../internal/trace-context.ts";
import { jobIdFor, runId } from "../job-id.ts";
import type { AnswerOutcome } from "../question-types.ts";
import type { JobIndex, SettledJob } from "../store/store.ts";
import type { ToolSlots } from "../store/tool-slots.ts";
import { createResonate, type ResonateConfig } from "./create-resonate.ts";
import {
  type CallerScope,
  iso,
  isUnfinished,
  type JobSnapshot,
  type ListOptions,
  notFound,
  ownedBy,
  PRINCIPAL_TAG,
  RUN_TAG,
  type StartedJob,
  type StartOptions,
  scopeOf,
  snapshotOf,
  statusOf,
  storedJobError,
  TOOL_TAG,
  TRACEPARENT_TAG,
  TRACESTATE_TAG,
  traceOf,
  type WaitOptions,
} from "./job.ts";
import { jobContextOf } from "./job-context.ts";
import { combineObservers, type JobEvent, type JobObserver, logJobEvent } from "./job-events.ts";
import { LocalJobs, type Pass } from "./local-jobs.ts";
import type { PromiseClient, PromiseRecord } from "./promise-client.ts";
import { Questions } from "./questions.ts";
import { type CreateOutcome, lostTask } from "./resonate-internals.ts";
import { SettledWatch } from "./settled-watch.ts";
import { Slots } from "./slots.ts";
import { errorText } from "./step-retry.ts";
import { StrandedTasks, standDown } from "./stranded-tasks.ts";

/** A registered tool: its versions, the newest (which new jobs run), and its concurrency slots. */
interface ToolEntry {
  readonly versions: Map<number, AnyAsyncTool>;
  latest: AnyAsyncTool;
  readonly slots: ToolSlots;
}

/** Runs and observes jobs of registered definitions on one Resonate instance. */
export class JobEngine {
  private readonly tools = new Map<string, ToolEntry>();
  /** What this process holds of jobs: one entry per job it is starting or running. */
  private readonly jobs = new LocalJobs();
  /** Tasks stranded by a store that refused a write, retried until the store takes them. */
  private readonly stranded: StrandedTasks;
  private stopped = false;

  /** The Resonate instance the engine runs jobs on, built by {@link createResonate} with every patch. */
  readonly resonate: Resonate;
  readonly promises: PromiseClient;
  readonly meta: JobIndex;
  readonly observer: Required<JobObserver>;
  /** Checks for jobs of this process settled elsewhere, while any runs. */
  private readonly settledWatch: SettledWatch | undefined;
  private readonly slotsFor: ((tool: string, limit: number) => ToolSlots) | undefined;
  private readonly questions: Questions;

  /**
   * `settled` answers which of the jobs this process runs the store holds as settled (see `Store.settled`):
   * asked every {@link DEFAULTS.cancelCheckMs} while jobs run, so a cancel made elsewhere stops them here.
   * `slots` gives a tool's concurrency slots shared by every process of the store (see `Store.slots`); without
   * it they are this process's own.
   */
  constructor(
    resonate: ResonateConfig,
    promises: PromiseClient,
    meta: JobIndex,
    observers: JobObserver[] = [],
    settled?: (ids: readonly string[]) => Promise<SettledJob[]>,
    slots?: (tool: string, limit: number) => ToolSlots,
  ) {
    this.promises = promises;
    this.meta = meta;
    this.observer = combineObservers(observers);
    this.settledWatch =
      settled === undefined ? undefined : new SettledWatch(settled, () => this.jobs.running());
    this.stranded = new StrandedTasks(promises);
    this.slotsFor = slots;
    this.questions = new Questions(promises);
    this.resonate = createResonate(resonate, {
      created: (outcome) => this.onCreateOutcome(outcome),
      unregistered: (func, version) => {
        const known = this.tools.get(func);
        if (known === undefined) return undefined;
        const versions = [...known.versions.keys()].sort((a, b) => a - b);
        return storedJobError({ code: "version_gone", version, versions });
      },
      failed: (task, error) => {
        if (lostTask(error)) standDown(task.id);
        else this.stranded.release(task.id, task.version, error);
      },
      undelivered: (taskId, error, retry) => this.stranded.redeliver(taskId, error, retry),
      suspended: (taskId) => this.unpark(taskId),
    });
  }

  /**
   * Registers the durable function of `tool` with Resonate. Several versions of one name may be registered;
   * new jobs run on the highest. The same name and version twice throws `DUPLICATE_TOOL`.
   */
  define(tool: AnyAsyncTool): void {
    const known = this.tools.get(tool.name);
    if (known?.versions.has(tool.version)) {
      throw new AsyncToolsError(
        "DUPLICATE_TOOL",
        `Async tool ${tool.name} (version ${tool.version}) is defined twice. Give each definition its own ` +
          "name, or a higher version to run new jobs on new code while old jobs finish on the old.",
      );
    }
    if (known === undefined) {
      const slots = this.slotsFor?.(tool.name, tool.concurrency) ?? new Slots(tool.concurrency);
      this.tools.set(tool.name, { versions: new Map([[tool.version, tool]]), latest: tool, slots });
    } else {
      known.versions.set(tool.version, tool);
      if (known.latest.version < tool.version) known.latest = tool;
    }
    const engine = this;
    const durable = async function durable(rctx: Context, input: unknown) {
      return engine.execute(tool, rctx, input);
    };
    this.resonate.register(tool.name, durable, { version: tool.version });
  }

  /** Stops background work (releases of failed executions, checks for cancels) when the runtime closes. */
  stop(): void {
    this.stopped = true;
    this.stranded.stop();
    this.settledWatch?.stop();
  }

  /** The newest definition registered under `name`. */
  definition(name: string): AnyAsyncTool | undefined {
    return this.tools.get(name)?.latest;
  }

  /** Every newest definition, in registration order. */
  definitions(): AnyAsyncTool[] {
    return [...this.tools.values()].map((entry) => entry.latest);
  }

  private async execute(tool: AnyAsyncTool, rctx: Context, raw: unknown): Promise<unknown> {
    const id = rctx.id;
    this.stranded.delivered(id);
    let input = raw;
    const launch = this.jobs.get(id)?.launching;
    const resumed = launch === undefined;
    let trace = launch?.trace;
    if (!resumed) {
      // Launched by this process a moment ago: validated by start.
      this.jobs.drop(id, "launching");
    } else {
      trace = traceOf(await this.promises.get(id).catch(() => undefined));
      // A resume, after a restart or a takeover: the code may have changed since the job was accepted.
      const checked = (tool.input as z.ZodObject).safeParse(raw);
      if (!checked.success) {
        const issues = checked.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
        const error: JobError = { code: "input_mismatch", version: tool.version, issues };
        this.emit({
          kind: "failed",
          jobId: id,
          tool: tool.name,
          error: jobErrorText({ jobId: id, error }),
          trace,
        });
        throw storedJobError(error);
      }
      input = checked.data;
      this.emit({ kind: "resumed", jobId: id, tool: tool.name, trace });
    }
    const watch = this.observer.execution({ jobId: id, tool: tool.name, resumed, trace });
    let failure: unknown;
    // A new pass of a job means its last one is over, even if that one's frame never returned (it suspended).
    this.unpark(id);
    const controller = new AbortController();
    const began = Date.now();
    // The store fails a job at its timeout; its function must stop too (the step's request, its retries).
    const left = rctx.timeoutAt - began;
    const timedOut = jobErrorText({ jobId: id, error: { code: "timed_out", timeoutMs: tool.timeoutMs } });
    const deadline =
      left < MAX_TIMER_MS
        ? setTimeout(() => controller.abort(new Error(timedOut)), Math.max(0, left))
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
        if (this.jobs.get(id)?.pass === pass) this.jobs.drop(id, "pass");
      },
    };
    this.jobs.of(id).pass = pass;
    this.settledWatch?.watch();
    try {
      release = await (this.tools.get(tool.name) as ToolEntry).slots.acquire(id, controller.signal);
      pass.running = true;
      const result = await tool.run(jobContextOf(rctx, tool, pass, trace, this), input as never);
      this.emit({ kind: "completed", jobId: id, tool: tool.name, durationMs: Date.now() - began, trace });
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
        this.emit({ kind: "failed", jobId: id, tool: tool.name, error: errorText(error), durationMs, trace });
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

  /** Lets go of the slot and signal of `id`'s last pass, which suspended. */
  private unpark(id: string): void {
    this.jobs.get(id)?.pass?.letGo();
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
  emit(event: JobEvent): void {
    logJobEvent(event);
    this.observer.onJob(event);
  }

  /**
   * Starts a job for validated `input`, or joins the one the same input already started. A cancelled job is
   * followed by a fresh run; `fresh` starts a new run even when the last one finished.
   */
  async start(tool: AnyAsyncTool, input: unknown, options: StartOptions = {}): Promise<StartedJob> {
    const { principal } = options;
    const trace = options.trace ?? this.observer.activeTrace();
    // Jobs are started (and joined) as their principal only, never in an operator's scope.
    const owner: CallerScope = principal === undefined ? {} : { principal };
    const base = jobIdFor(tool, input, principal);
    // `fresh` skips every run there is; otherwise a cancelled run is followed by a new one, and another
    // principal's job under this ID (a custom ID that happens to match) is never joined.
    const skip = (record: PromiseRecord) =>
      options.fresh === true || record.state === "rejected_canceled" || !ownedBy(record, owner);
    for (let n = 1, vanished = 0; n <= DEFAULTS.maxRuns; ) {
      const id = runId(base, n);
      // Concurrent starts of one job in this process: the first creates it, the others wait and then join it.
      const inflight = this.jobs.get(id)?.starting;
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
        const creation = this.create(tool, id, input, principal, trace);
        this.jobs.of(id).starting = creation;
        let created: JobSnapshot | undefined;
        try {
          created = await creation;
        } finally {
          this.jobs.drop(id, "starting");
        }
        if (created !== undefined) return { ...created, created: true };
      }
      const existing = await this.promises.get(id);
      if (existing === undefined) {
        // Gone between the store's "exists" and this read (the retention sweep removed it): create it again.
        if (vanished++ < DEFAULTS.maxRuns) continue;
        throw new AsyncToolsError(
          "STORE_IO",
          `job ${id} keeps vanishing from the store as it starts; retry the start`,
        );
      }
      if (skip(existing)) {
        n += 1;
        continue;
      }
      return { ...(await this.toSnapshot(existing, false)), created: false };
    }
    throw new AsyncToolsError(
      "TOO_MANY_RUNS",
      `job ${base} has been run ${DEFAULTS.maxRuns} times; refusing to start another`,
    );
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
    trace: TraceContext | undefined,
  ): Promise<JobSnapshot | undefined> {
    const now = Date.now();
    const creating = { runTag: randomUUID(), made: false };
    Object.assign(this.jobs.of(id), { creating, launching: { trace } });
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
            [RUN_TAG]: creating.runTag,
            ...(principal === undefined ? {} : { [PRINCIPAL_TAG]: principal }),
            ...(trace === undefined ? {} : { [TRACEPARENT_TAG]: trace.traceparent }),
            ...(trace?.tracestate === undefined ? {} : { [TRACESTATE_TAG]: trace.tracestate }),
          },
        }),
      );
    } catch (error) {
      this.jobs.drop(id, "launching");
      throw error;
    } finally {
      this.jobs.drop(id, "creating");
    }
    if (!creating.made) return undefined;
    // The durable promise is the job; its metadata row comes second and off the answer's path, so a store
    // that refuses the job (a full disk) leaves nothing behind, and a row that cannot be written costs
    // listing, never the job.
    this.meta.recordSoon(id, tool.name, now, principal ?? "");
    this.emit({ kind: "started", jobId: id, tool: tool.name, trace });
    const snapshot: JobSnapshot = { jobId: id, status: "working", tool: tool.name, createdAt: iso(now) };
    const place = await this.tools.get(tool.name)?.slots.position(id);
    if (place !== undefined) Object.assign(snapshot, { status: "queued", queuePosition: place });
    return snapshot;
  }

  /**
   * What a creation of this process found ({@link observeTaskCreate}), before the SDK executes anything: a
   * job that was there already is not "launched" by this start, so its first execution here re-validates
   * the stored input like any resumed job.
   */
  private onCreateOutcome(outcome: CreateOutcome): void {
    const creating = this.jobs.get(outcome.id)?.creating;
    if (creating === undefined) return;
    if (outcome.stored?.[RUN_TAG] === creating.runTag) creating.made = true;
    else this.jobs.drop(outcome.id, "launching");
  }

  /**
   * The current state of `id`; with `withResult`, a completed job carries its result. A pending job's
   * question index is read only when the job may be waiting on a question (see `LocalJobs.mayAsk`).
   */
  private async toSnapshot(record: PromiseRecord, withResult: boolean): Promise<JobSnapshot> {
    const tool = record.tags?.[TOOL_TAG];
    const pending = record.state === "pending";
    const pass = this.jobs.get(record.id)?.pass;
    return snapshotOf(record, {
      value: (r) => this.promises.value(r),
      withResult,
      progress: (await this.meta.get(record.id))?.progress,
      queuePosition:
        tool === undefined || !pending ? undefined : await this.tools.get(tool)?.slots.position(record.id),
      retrying: pass?.retrying,
      questions: pending && this.jobs.mayAsk(record.id) ? await this.questions.pending(record.id) : undefined,
    });
  }

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
          error: { code: "expired" },
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
    const snapshots =
      options.read?.length === ids.length
        ? [...options.read]
        : await Promise.all(ids.map((id) => this.snapshot(id, true, scope)));
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
    // Only the jobs that were unfinished are read again: a finished job does not change.
    return Promise.all(
      snapshots.map((s) => (isUnfinished(s.status) ? this.snapshot(s.jobId, true, scope) : s)),
    );
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
      this.jobs.get(id)?.pass?.controller.abort(new Error(reason));
      this.emit({
        kind: "cancelled",
        jobId: id,
        tool: record.tags?.[TOOL_TAG],
        reason,
        trace: traceOf(record),
      });
    }
    return this.snapshot(id, false, scope);
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
}

/** `setTimeout` fires at once past this delay (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

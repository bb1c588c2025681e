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
import { AsyncToolsError } from "../errors.ts";
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
  TOOL_TAG,
  TRACEPARENT_TAG,
  TRACESTATE_TAG,
  traceOf,
  type WaitOptions,
} from "./job.ts";
import { jobContextOf } from "./job-context.ts";
import { combineObservers, type JobEvent, type JobObserver, logJobEvent } from "./job-events.ts";
import type { PromiseClient, PromiseRecord } from "./promise-client.ts";
import { Questions } from "./questions.ts";
import { type CreateOutcome, lostTask } from "./resonate-internals.ts";
import { SettledWatch } from "./settled-watch.ts";
import { Slots } from "./slots.ts";
import { errorText, type StepRetry } from "./step-retry.ts";
import { StrandedTasks, standDown } from "./stranded-tasks.ts";

/** Runs and observes jobs of registered definitions on one Resonate instance. */
export class JobEngine {
  private readonly versions = new Map<string, Map<number, AnyAsyncTool>>();
  private readonly latest = new Map<string, AnyAsyncTool>();
  private readonly slots = new Map<string, ToolSlots>();
  private readonly running = new Map<string, AbortController>();
  readonly retrying = new Map<string, StepRetry>();
  private readonly starting = new Map<string, Promise<JobSnapshot | undefined>>();
  /** The run tag of each job this process is creating right now, and those its creation made. */
  private readonly creating = new Map<string, string>();
  private readonly created = new Set<string>();
  /**
   * Jobs this process is launching right now, with the trace each continues: their first execution needs no
   * re-validation, and no read of the stored trace.
   */
  private readonly launching = new Map<string, TraceContext | undefined>();
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
  /** How to let go of each execution's slot and signal when its pass suspends (parked on a question, a sleep). */
  private readonly parking = new Map<string, () => void>();

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
    this.settledWatch = settled === undefined ? undefined : new SettledWatch(settled, this.running);
    this.stranded = new StrandedTasks(promises);
    this.slotsFor = slots;
    this.questions = new Questions(promises);
    this.resonate = createResonate(resonate, {
      created: (outcome) => this.onCreateOutcome(outcome),
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
    if (!this.slots.has(tool.name))
      this.slots.set(tool.name, this.slotsFor?.(tool.name, tool.concurrency) ?? new Slots(tool.concurrency));
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
    return this.latest.get(name);
  }

  /** Every newest definition, in registration order. */
  definitions(): AnyAsyncTool[] {
    return [...this.latest.values()];
  }

  private async execute(tool: AnyAsyncTool, rctx: Context, raw: unknown): Promise<unknown> {
    const id = rctx.id;
    this.stranded.delivered(id);
    let input = raw;
    const resumed = !this.launching.has(id);
    let trace = this.launching.get(id);
    if (!resumed) {
      // Launched by this process a moment ago: validated by start.
      this.launching.delete(id);
    } else {
      trace = traceOf(await this.promises.get(id).catch(() => undefined));
      // A resume, after a restart or a takeover: the code may have changed since the job was accepted.
      const checked = (tool.input as z.ZodObject).safeParse(raw);
      if (!checked.success) {
        const issues = checked.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
        const message =
          `The input of job ${id} no longer matches ${tool.name} version ${tool.version} (${issues.join("; ")}). ` +
          "Start it again with arguments the current version accepts.";
        this.emit({ kind: "failed", jobId: id, tool: tool.name, error: message, trace });
        throw new Error(message);
      }
      input = checked.data;
      this.emit({ kind: "resumed", jobId: id, tool: tool.name, trace });
    }
    const watch = this.observer.execution({ jobId: id, tool: tool.name, resumed, trace });
    let failure: unknown;
    // A new pass of a job means its last one is over, even if that one's frame never returned (it suspended).
    this.unpark(id);
    const controller = new AbortController();
    this.running.set(id, controller);
    this.settledWatch?.watch();
    const began = Date.now();
    // The store fails a job at its timeout; its function must stop too (the step's request, its retries).
    const left = rctx.timeoutAt - began;
    const deadline =
      left < MAX_TIMER_MS
        ? setTimeout(() => controller.abort(new Error(timedOutMessage(tool.timeoutMs))), Math.max(0, left))
        : undefined;
    deadline?.unref();
    const slots = this.slots.get(tool.name) as ToolSlots;
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
      const result = await tool.run(jobContextOf(rctx, tool, controller.signal, trace, this), input as never);
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
        const creation = this.create(tool, id, input, principal, trace);
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
    const nonce = randomUUID();
    this.launching.set(id, trace);
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
            ...(trace === undefined ? {} : { [TRACEPARENT_TAG]: trace.traceparent }),
            ...(trace?.tracestate === undefined ? {} : { [TRACESTATE_TAG]: trace.tracestate }),
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
    this.emit({ kind: "started", jobId: id, tool: tool.name, trace });
    const snapshot: JobSnapshot = { jobId: id, status: "working", tool: tool.name, createdAt: iso(now) };
    const place = await this.slots.get(tool.name)?.position(id);
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
  private async toSnapshot(record: PromiseRecord, withResult: boolean): Promise<JobSnapshot> {
    const tool = record.tags?.[TOOL_TAG];
    return snapshotOf(record, {
      value: (r) => this.promises.value(r),
      withResult,
      progress: (await this.meta.get(record.id))?.progress,
      queuePosition:
        tool === undefined || record.state !== "pending"
          ? undefined
          : await this.slots.get(tool)?.position(record.id),
      retrying: this.retrying.get(record.id),
      questions: record.state === "pending" ? await this.questions.pending(record.id) : undefined,
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
      this.running.get(id)?.abort(new Error(reason));
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

function timedOutMessage(timeoutMs: number): string {
  return `The job timed out after ${Math.round(timeoutMs / 1000)} s before it finished.`;
}

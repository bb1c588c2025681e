/**
 * The job model over Resonate durable promises: a job is a root durable promise whose ID is the job ID.
 * Starting, reading, waiting for, answering, cancelling and listing jobs live here, in camelCase TypeScript
 * that knows nothing of MCP. Per job it adds what promises do not hold: the tool (a promise tag), progress
 * (the job index), and what this process holds of it (`local-jobs.ts`: its place in the queue, the step being
 * retried). Creating a job is `job-creation.ts`, running it `executions.ts`.
 */
import type { Context, Resonate } from "@resonatehq/sdk/async";
import { DEFAULTS } from "../defaults.ts";
import type { AnyAsyncTool } from "../define.ts";
import { AsyncToolsError } from "../errors.ts";
import { jobIdFor, runId } from "../job-id.ts";
import type { AnswerOutcome } from "../question-types.ts";
import type { ChangeFeed, JobIndex, JobMetaRow, SettledJob } from "../store/store.ts";
import type { ToolSlots } from "../store/tool-slots.ts";
import { createResonate, type ResonateConfig } from "./create-resonate.ts";
import { Executions } from "./executions.ts";
import {
  type CallerScope,
  iso,
  isUnfinished,
  type JobSnapshot,
  type ListOptions,
  notFound,
  ownedBy,
  type StartedJob,
  type StartOptions,
  scopeOf,
  snapshotOf,
  statusOf,
  storedJobError,
  TOOL_TAG,
  traceOf,
  type WaitOptions,
} from "./job.ts";
import { type CreationDeps, createJob, creationFound } from "./job-creation.ts";
import { combineObservers, type JobEvent, type JobObserver, logJobEvent } from "./job-events.ts";
import { LocalJobs } from "./local-jobs.ts";
import type { PromiseClient, PromiseRecord } from "./promise-client.ts";
import { Questions } from "./questions.ts";
import { Slots } from "./slots.ts";
import { FeedWaiter } from "./waiters/feed-waiter.ts";
import { ListenerWaiter } from "./waiters/listener-waiter.ts";
import type { JobReads, Waiter } from "./waiters/waiter.ts";

/** Whether the job waits for an answer: it will not finish by waiting, the caller has a question to pass on. */
function isAsking(snapshot: JobSnapshot): boolean {
  return snapshot.status === "input_required";
}

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
  private readonly executions: Executions;
  private readonly creation: CreationDeps;

  /** The Resonate instance the engine runs jobs on, built by {@link createResonate} with every patch. */
  readonly resonate: Resonate;
  readonly promises: PromiseClient;
  readonly meta: JobIndex;
  /** The store's change feed (see `Store.changes`): readers of jobs wait on it rather than poll. */
  readonly changes: ChangeFeed | undefined;
  readonly observer: Required<JobObserver>;
  private readonly slotsFor: ((tool: string, limit: number) => ToolSlots) | undefined;
  private readonly questions: Questions;
  /** How awaits wait on a complete feed: on it alone (absent without a feed). */
  private readonly feedWaiter: FeedWaiter | undefined;
  /** How awaits wait otherwise: through the listeners they register on the jobs they wait for. */
  private readonly listenerWaiter: ListenerWaiter;

  /**
   * `settled` answers which of the jobs this process runs the store holds as settled (see `Store.settled`):
   * asked while jobs run, when `changes` (the store's change feed) says one of them changed, so a cancel made
   * elsewhere stops them here.
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
    changes?: ChangeFeed,
  ) {
    this.changes = changes;
    this.promises = promises;
    this.meta = meta;
    this.observer = combineObservers(observers);
    const { jobs, observer } = this;
    const emit = (event: JobEvent) => this.emit(event);
    const slotsOf = (name: string) => (this.tools.get(name) as ToolEntry).slots;
    this.executions = new Executions(
      { jobs, meta, observer, promises, emit, slots: slotsOf },
      settled,
      changes,
    );
    this.slotsFor = slots;
    this.questions = new Questions(promises);
    this.feedWaiter = changes === undefined ? undefined : new FeedWaiter(changes);
    this.listenerWaiter = new ListenerWaiter(promises, meta, this.questions, changes);
    const network =
      resonate?.network === undefined ? {} : { network: this.listenerWaiter.tap(resonate.network) };
    const resonated = createResonate(
      { ...resonate, ...network },
      {
        created: (outcome) => creationFound(this.jobs, outcome),
        unregistered: (func, version) => {
          const known = this.tools.get(func);
          if (known === undefined) return undefined;
          const versions = [...known.versions.keys()].sort((a, b) => a - b);
          return storedJobError({ code: "version_gone", version, versions });
        },
        failed: (task, error) => this.executions.failed(task, error),
        undelivered: (taskId, error, retry) => this.executions.undelivered(taskId, error, retry),
        suspended: (taskId) => this.jobs.unpark(taskId),
      },
    );
    this.resonate = resonated;
    this.creation = { jobs, resonate: resonated, meta, emit, slots: slotsOf };
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
      return engine.executions.run(tool, rctx, input);
    };
    this.resonate.register(tool.name, durable, { version: tool.version });
  }

  /** Stops background work (releases of failed executions, checks for cancels) when the runtime closes. */
  stop(): void {
    this.executions.stop();
    this.listenerWaiter.stop();
  }

  /** The newest definition registered under `name`. */
  definition(name: string): AnyAsyncTool | undefined {
    return this.tools.get(name)?.latest;
  }

  /** Every newest definition, in registration order. */
  definitions(): AnyAsyncTool[] {
    return [...this.tools.values()].map((entry) => entry.latest);
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
        const creation = createJob(this.creation, tool, id, input, principal, trace);
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
   * The current state of `id`; with `withResult`, a completed job carries its result. A pending job's
   * question index is read only when the job may be waiting on a question (see `LocalJobs.mayAsk`).
   */
  private async toSnapshot(
    record: PromiseRecord,
    withResult: boolean,
    progress = true,
  ): Promise<JobSnapshot> {
    const tool = record.tags?.[TOOL_TAG];
    const pending = record.state === "pending";
    const pass = this.jobs.get(record.id)?.pass;
    const [row, queuePosition, questions] = await Promise.all([
      progress ? this.metaOf(record) : undefined,
      tool === undefined || !pending ? undefined : this.tools.get(tool)?.slots.position(record.id),
      pending && this.jobs.mayAsk(record.id) ? this.questions.pending(record.id) : undefined,
    ]);
    return snapshotOf(record, {
      value: (r) => this.promises.value(r),
      withResult,
      progress: row?.progress,
      queuePosition,
      retrying: pass?.retrying,
      questions,
    });
  }

  /** The index row of the job `record`: read now, or the one read as this process finished the job. */
  private metaOf(record: PromiseRecord): Promise<JobMetaRow | undefined> {
    return this.listenerWaiter.finishedRow(record) ?? this.meta.get(record.id);
  }

  async snapshot(id: string, withResult = false, scope: CallerScope = {}): Promise<JobSnapshot> {
    return this.snapshotFrom(id, await this.promises.get(id), withResult, scope);
  }

  /** The snapshot of `id` from its promise as read (`undefined`: the store has none). */
  private async snapshotFrom(
    id: string,
    record: PromiseRecord | undefined,
    withResult: boolean,
    scope: CallerScope,
    progress = true,
  ): Promise<JobSnapshot> {
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
    return this.toSnapshot(record, withResult, progress);
  }

  /**
   * Waits until every job in `ids` is done or `timeoutMs` elapses, whichever comes first, then reports
   * each with its result. Never throws for "not yet": unfinished jobs come back `queued` or `working`.
   */
  async wait(ids: string[], timeoutMs: number, options: WaitOptions = {}): Promise<JobSnapshot[]> {
    const scope = scopeOf(options);
    const given = options.read?.length === ids.length ? options.read : undefined;
    if (timeoutMs <= 0)
      return given ? [...given] : Promise.all(ids.map((id) => this.snapshot(id, true, scope)));
    // Jobs the caller read finished (or asking) are returned as they are.
    if (given !== undefined && (!given.some((s) => isUnfinished(s.status)) || given.some(isAsking)))
      return [...given];
    const jobs = given?.filter((s) => isUnfinished(s.status)).map((s) => s.jobId) ?? ids;
    const waiting = this.waiter().begin(jobs, this.readsIn(scope), given !== undefined);
    let snapshots: JobSnapshot[];
    try {
      snapshots = given ? [...given] : await waiting.read(ids, options.onTick !== undefined);
    } catch (error) {
      waiting.close();
      throw error;
    }
    // Each job once: a list may name a job twice, and the waiters count the jobs they saw finish.
    const pending = [...new Set(snapshots.filter((s) => isUnfinished(s.status)).map((s) => s.jobId))];
    if (pending.length === 0 || snapshots.some(isAsking)) {
      waiting.close();
      return given !== undefined || options.onTick !== undefined ? snapshots : waiting.whole(snapshots);
    }

    let timer: NodeJS.Timeout | undefined;
    let ticker: NodeJS.Timeout | undefined;
    const elapsed = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      options.signal?.addEventListener("abort", () => resolve(), { once: true });
    });
    const ended = waiting.until(pending);
    if (options.onTick) {
      const onTick = options.onTick;
      onTick(snapshots);
      ticker = setInterval(() => {
        void Promise.all(ids.map((id) => this.snapshot(id, false, scope))).then(onTick, () => undefined);
      }, options.tickMs ?? DEFAULTS.progressTickMs);
    }
    try {
      await Promise.race([ended, elapsed]);
    } finally {
      clearTimeout(timer);
      waiting.close();
      clearInterval(ticker);
    }
    return waiting.last(snapshots);
  }

  /**
   * How a wait beginning now waits: on the feed alone while it is complete (the SQLite owner's, the memory
   * store's; a joiner's becomes complete when it takes the store over, so this is asked at each wait), else
   * through listeners on the jobs' promises.
   */
  private waiter(): Waiter {
    return this.feedWaiter?.complete === true ? this.feedWaiter : this.listenerWaiter;
  }

  /** What a wait reads jobs with (see `waiters/`): jobs with their results, in the caller's `scope`. */
  readsIn(scope: CallerScope): JobReads {
    return {
      now: (id) => this.snapshot(id, true, scope),
      from: (id, record, progress) => this.snapshotFrom(id, record, true, scope, progress),
    };
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
      return { status: "invalid", problem: { code: "not_asking", status: statusOf(record.state) } };
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

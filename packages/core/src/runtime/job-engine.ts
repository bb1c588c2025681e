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
import { ChangeWatch } from "./change-watch.ts";
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
import { SettleListeners } from "./settle-listeners.ts";
import { Slots } from "./slots.ts";

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
  /** The listeners awaits register on the jobs they wait for. */
  private readonly listeners: SettleListeners;
  /** The index rows of jobs this process is finishing, read for the awaits waiting on them. */
  private readonly finishing = new Map<string, Promise<JobMetaRow | undefined>>();

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
    // A job finished here: what the index holds of it no longer changes, so an await's last read of it goes
    // along with the finishing request instead of after its answer.
    this.listeners = new SettleListeners(promises, (id) => {
      const read = meta.get(id);
      read.catch(() => undefined);
      this.finishing.set(id, read);
    });
    const network = resonate?.network === undefined ? {} : { network: this.listeners.tap(resonate.network) };
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
    this.listeners.stop();
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
    const read = this.finishing.get(record.id);
    if (read === undefined) return this.meta.get(record.id);
    this.finishing.delete(record.id);
    return record.state === "pending" ? this.meta.get(record.id) : read;
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
    // Any process may be running the job: its store is where a new question shows, and its feed says when.
    // Watched before the jobs are read (jobs the caller read are looked at once), so no question slips by.
    const changes = new ChangeWatch(this.changes, (id) => ids.includes(id), {
      readAllFirst: given !== undefined,
    });
    // A complete feed (the SQLite owner's, the memory store's) tells of every settle, or says "any": the wait
    // ends on it alone and registers no listener. Otherwise each job is read by registering a listener on it,
    // one request; the store's message when it settles carries the settled job, which is then not read again.
    // Jobs the caller read finished (or asking) need no listener: they are returned as they are.
    const feedAlone = this.changes?.complete === true;
    const waitable = given?.filter((s) => isUnfinished(s.status)).map((s) => s.jobId) ?? ids;
    if (given !== undefined && (waitable.length === 0 || given.some((s) => s.status === "input_required"))) {
      changes.close();
      return [...given];
    }
    const listening = new Map(
      feedAlone ? [] : [...new Set(waitable)].map((id) => [id, this.listeners.listen(id)] as const),
    );
    const leave = () => {
      changes.close();
      for (const held of listening.values()) held.close();
    };
    let snapshots: JobSnapshot[];
    let found: (PromiseRecord | undefined)[] = [];
    try {
      if (given) snapshots = [...given];
      else if (feedAlone) snapshots = await Promise.all(ids.map((id) => this.snapshot(id, true, scope)));
      else {
        found = await Promise.all(ids.map((id) => listening.get(id)?.found));
        // A pending job is read again when the wait ends: its progress now is read only to tick with it.
        const ticks = options.onTick !== undefined;
        snapshots = await Promise.all(
          ids.map((id, i) =>
            this.snapshotFrom(id, found[i], true, scope, ticks || found[i]?.state !== "pending"),
          ),
        );
      }
    } catch (error) {
      leave();
      throw error;
    }
    const pending = snapshots.filter((s) => isUnfinished(s.status)).map((s) => s.jobId);
    // A job waiting for an answer will not finish by waiting: the caller has a question to pass on.
    const asking = snapshots.some((s) => s.status === "input_required");
    if (pending.length === 0 || asking) {
      leave();
      if (given !== undefined || options.onTick !== undefined) return snapshots;
      return Promise.all(
        snapshots.map((s, i) =>
          found[i]?.state === "pending" ? this.snapshotFrom(s.jobId, found[i], true, scope) : s,
        ),
      );
    }

    let timer: NodeJS.Timeout | undefined;
    let ticker: NodeJS.Timeout | undefined;
    const settled = new Map<string, PromiseRecord | undefined>();
    const finished = feedAlone
      ? undefined
      : Promise.all(
          pending.map((id) => listening.get(id)?.settled.then((record) => settled.set(id, record))),
        );
    // On a complete feed a changed job is read whole (with its result): a finished job does not change, so a
    // read that found it finished is the answer, and a wait whose jobs all finished so ends without reading
    // them again. Otherwise a change is looked at only for a new question: the listener tells of the settle.
    const done = new Map<string, JobSnapshot>();
    const reads = new Map<string, Promise<JobSnapshot>>();
    const read = (id: string) => {
      const reading = this.snapshot(id, true, scope).then((job) => {
        if (!isUnfinished(job.status)) done.set(id, job);
        return job;
      });
      reads.set(id, reading);
      return reading;
    };
    const elapsed = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      options.signal?.addEventListener("abort", () => resolve(), { once: true });
      void (async () => {
        for (let changed = await changes.next(); changed !== undefined; changed = await changes.next()) {
          const asked = (changed === "all" ? pending : pending.filter((id) => changed.has(id))).filter(
            (id) => !done.has(id),
          );
          const asking = feedAlone
            ? Promise.all(asked.map(read)).then((jobs) => jobs.some((job) => job.status === "input_required"))
            : Promise.all(asked.map((id) => this.questions.pending(id))).then((open) =>
                open.some((q) => q.length > 0),
              );
          if ((await asking.catch(() => false)) || (feedAlone && done.size === pending.length))
            return resolve();
        }
      })();
    });
    if (options.onTick) {
      const onTick = options.onTick;
      onTick(snapshots);
      ticker = setInterval(() => {
        void Promise.all(ids.map((id) => this.snapshot(id, false, scope))).then(onTick, () => undefined);
      }, options.tickMs ?? DEFAULTS.progressTickMs);
    }
    try {
      await (finished === undefined ? elapsed : Promise.race([finished, elapsed]));
    } finally {
      clearTimeout(timer);
      leave();
      clearInterval(ticker);
    }
    // A finished job does not change; a job that settled meanwhile came with its listener's message, or was
    // read whole on the feed's word; only a job still unfinished is read again.
    try {
      return await Promise.all(
        snapshots.map(async (s) => {
          if (!isUnfinished(s.status)) return s;
          if (settled.has(s.jobId)) return this.snapshotFrom(s.jobId, settled.get(s.jobId), true, scope);
          await reads.get(s.jobId)?.catch(() => undefined);
          return done.get(s.jobId) ?? this.snapshot(s.jobId, true, scope);
        }),
      );
    } finally {
      for (const id of pending) this.finishing.delete(id);
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

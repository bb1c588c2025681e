/**
 * The runtime: one Resonate instance on the chosen store, running a fixed set of async tools. Its lifecycle is
 * explicit: `createAsyncTools({ tools })` opens the store, registers every definition and starts recovering
 * interrupted jobs at once, before any client connects; faces (MCP over stdio or HTTP, the CLI) only expose
 * the jobs; `close()` ends it.
 */
import { randomUUID } from "node:crypto";
import type { Logger, Network } from "@resonatehq/sdk";
import type { Resonate } from "@resonatehq/sdk/async";
import type { z } from "zod";
import { DEFAULTS } from "../defaults.ts";
import type { AnyAsyncTool, AsyncTool } from "../define.ts";
import { AsyncToolsError } from "../errors.ts";
import { log } from "../internal/log.ts";
import type { AnswerOutcome } from "../question-types.ts";
import type { PostgresOptions } from "../store/postgres/postgres-store.ts";
import { openStore } from "../store/select.ts";
import type { JobIndex, Store, StoreRole } from "../store/store.ts";
import type { ResonateConfig } from "./create-resonate.ts";
import type { CallerScope, JobSnapshot, ListOptions, StartedJob } from "./job.ts";
import { type JobDetail, readJobDetail, stepLogWatch } from "./job-detail.ts";
import { JobEngine } from "./job-engine.ts";
import { relayed } from "./network-relay.ts";
import { PromiseClient } from "./promise-client.ts";
import { rerunJob } from "./rerun.ts";
import { loadTelemetry } from "./telemetry.ts";

/** Options of {@link createAsyncTools}. */
export interface CreateAsyncToolsOptions {
  /**
   * The async tools this runtime runs, from {@link defineAsyncTool}. Known up front, so jobs interrupted by a
   * crash resume as soon as the runtime starts. Several versions of one tool may be listed.
   */
  tools: readonly AnyAsyncTool[];
  /**
   * The server's name, e.g. the McpServer's: the default store is `async-tools/<name>/jobs.db` in the user's
   * data directory, so different servers keep different stores. Also named in logs.
   */
  name?: string;
  /**
   * Where jobs live: `sqlite:<path>` or a path (default: `ASYNC_TOOLS_STORE`, then `RESONATE_URL`, then
   * `async-tools/<name>/jobs.db` in the user's data directory), `memory`, `http(s)://…` (a Resonate Server or
   * `async-tools store serve`), `postgres://…` (Resonate's Postgres schema), or a Resonate `Network` object.
   * Several processes may open one store file: the first owns it, the others join it.
   */
  store?: string | Network;
  /** How long finished jobs are kept before they are removed, in ms. Default 7 days. */
  retentionMs?: number;
  /**
   * On the embedded store: `full` (default) answers once the change is on disk and survives power loss;
   * `normal` answers without waiting for the disk's sync and survives any crash of the process, not a power loss.
   */
  durability?: "normal" | "full";
  /** Resonate worker group. Default `default`. */
  group?: string;
  /** Lease of a running task in ms, renewed by heartbeats while this process lives. Default 60 s. */
  leaseMs?: number;
  /**
   * Connections of a `postgres://` store: `{ poolSize: 8, tickMs: 250, applicationName: "async-tools" }` by
   * default. Ignored by other stores.
   */
  postgres?: PostgresOptions;
}

/** Where a runtime's jobs live. */
export interface StoreInfo {
  kind: Store["kind"];
  /** The store, for people: a file path or a URL without credentials. */
  description: string;
  /** Whether jobs survive a restart of this process. */
  durable: boolean;
  /** `owner` of the store file, `joiner` of one another process owns (until it takes over), or `remote`. */
  readonly role: StoreRole;
}

/**
 * On whose behalf a call acts. A `principal` (an authenticated caller: a user, an API key's owner) owns the
 * jobs it starts: the same input from two principals is two jobs, and a principal sees only its own jobs
 * (another's answer `not_found`). Leave it out where there is one caller, as over stdio.
 */
export interface CallerOptions {
  principal?: string;
}

/** How long {@link AsyncTools.wait} blocks and what it tells along the way. */
export interface WaitForJobsOptions extends CallerOptions {
  /** Longest wait in ms; unfinished jobs come back `queued` or `working` after it. */
  timeoutMs: number;
  signal?: AbortSignal;
}

/**
 * A running set of async tools sharing one durable store: start, probe, wait for, cancel and list jobs.
 * Expose it to MCP clients with `@async-tools/core/mcp-v1` (or another face). Create it with
 * {@link createAsyncTools}.
 */
export interface AsyncTools {
  /** The server name given to {@link createAsyncTools}, if any. */
  readonly name: string | undefined;
  /** Where the jobs live. */
  readonly store: StoreInfo;
  /** The newest version of each async tool, in the order given. */
  readonly tools: readonly AnyAsyncTool[];
  /** Starts (or joins) the job for `input`, validated with the tool's schema. Never waits for a free slot. */
  start<I extends z.ZodObject, O>(
    tool: AsyncTool<I, O>,
    input: z.input<I>,
    options?: { fresh?: boolean } & CallerOptions,
  ): Promise<StartedJob<O>>;
  /** The state of each job, without waiting. */
  probe(ids: readonly string[], options?: CallerOptions): Promise<JobSnapshot[]>;
  /** Waits up to `timeoutMs` for the jobs to finish; returns each one's state, with results. */
  wait(ids: readonly string[], options: WaitForJobsOptions): Promise<JobSnapshot[]>;
  /** Waits up to `timeoutMs` for one job of `tool`; a completed job's `result` has the type `run` returns. */
  waitFor<I extends z.ZodObject, O>(
    tool: AsyncTool<I, O>,
    id: string,
    timeoutMs: number,
    options?: CallerOptions,
  ): Promise<JobSnapshot<O>>;
  /** Cancels a job that is still unfinished; a finished job is left as it is. */
  cancel(id: string, reason?: string, options?: CallerOptions): Promise<JobSnapshot>;
  /**
   * Jobs in start order, a page at a time, optionally only of one tool, in some statuses, or started since a
   * time; pass `next` back as `cursor` for the next page. With a `principal`, only its jobs (a page may then
   * hold fewer than `limit`).
   */
  list(options?: ListOptions & CallerOptions): Promise<{ jobs: JobSnapshot[]; next?: number }>;
  /**
   * Everything known about one job: its state and result or error, the input it was started with, and its
   * steps with every attempt (start and end times, errors). An unknown ID (or another principal's job) comes
   * back `not_found`.
   */
  get(id: string, options?: CallerOptions): Promise<JobDetail>;
  /**
   * Starts a fresh run of a failed or cancelled job with the input it was started with, like
   * `start(tool, input, { fresh: true })`. A runtime that does not run the job's tool leaves the new run to
   * the next server on this store that does. Any other job comes back as it is, with `created: false`;
   * so does the job's newest run when it is queued, running or completed, so a second retry starts nothing.
   */
  retry(id: string, options?: CallerOptions): Promise<StartedJob>;
  /**
   * Answers questions the job `id` waits on (`input_required`; its `questions` name them): question ID →
   * answer. Several open questions may be answered at once or one by one. The answer is stored durably and
   * the job resumes on whichever process runs its tool. `not_found` for an unknown job or another principal's;
   * `invalid`, with the reason, for an unknown question or an answer its form refuses (nothing is delivered).
   *
   * @example
   * ```ts
   * const [job] = await runtime.probe([jobId]);
   * const question = job?.questions?.[0];
   * if (question) await runtime.answer(jobId, { [question.id]: { action: "accept", content: { proceed: true } } });
   * ```
   */
  answer(
    id: string,
    answers: Readonly<Record<string, unknown>>,
    options?: CallerOptions,
  ): Promise<AnswerOutcome>;
  /** Stops Resonate and closes the store. Unfinished jobs resume at the next start on the same store. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** What the faces (MCP, CLI) need beyond the public interface. Not exported from the package root. */
export interface RuntimeInternals {
  engine: JobEngine;
  meta: JobIndex;
  /** Reads and settles durable promises of the store (what the faces keep there, e.g. a signing key). */
  promises: PromiseClient;
  /** The opened store: its step log, its role, and (on an embedded store) `gc`. */
  store: Store;
  retentionMs: number;
  assertOpen(): void;
}

const internals = new WeakMap<AsyncTools, RuntimeInternals>();

/** The internals of a runtime, for the faces of this package. */
export function internalsOf(tools: AsyncTools): RuntimeInternals {
  const found = internals.get(tools);
  if (found === undefined) {
    throw new AsyncToolsError("INVALID_DEFINITION", "Expected the runtime that createAsyncTools returned.");
  }
  return found;
}

/**
 * Routes Resonate's logs to stderr; its default logger writes info to stdout, the MCP channel. Its errors
 * stay warnings except the races a normal run has (a task another attempt already took or finished), which
 * it reports as errors with links to its docs; those are debug lines here.
 */
export const resonateLogger: Logger = {
  debug: (fields, msg) => log("debug", msg, { ...fields, source: "resonate" }),
  info: (fields, msg) => log("debug", msg, { ...fields, source: "resonate" }),
  warn: (fields, msg) => log("debug", msg, { ...fields, source: "resonate" }),
  error: (fields, msg) => log(isNormalRace(msg) ? "debug" : "warn", msg, { ...fields, source: "resonate" }),
};

/** Whether a Resonate error message is an expected conflict of a normal run (HTTP 409 from the store). */
function isNormalRace(msg: string): boolean {
  return /Fence check failed|already (claimed|completed|settled|exists)|\b409\b/i.test(msg);
}

/**
 * The store as a runtime without tools sees it: it hears promises settle but takes no work, so a CLI that
 * opens a stopped store to look at it (or to queue a retry) leaves every job to the next server that runs
 * its tool, instead of taking and dropping tasks it cannot run.
 */
function takingNoWork(network: Network): Network {
  return relayed(network, {
    recv: (callback) => network.recv((message) => message.kind !== "execute" && callback(message)),
  });
}

/**
 * Opens the durable store, registers `tools` and starts recovering jobs a crash interrupted. Fails fast, with
 * an {@link AsyncToolsError}, when the store is malformed, locked by another process, corrupt or unreachable,
 * or when two definitions share a name and version (`DUPLICATE_TOOL`).
 *
 * @example
 * ```ts
 * import { createAsyncTools } from "@async-tools/core";
 *
 * await using runtime = await createAsyncTools({ name: "reports", tools: [buildReport] });
 * const job = await runtime.start(buildReport, { year: 2024, month: 1 });
 * const done = await runtime.waitFor(buildReport, job.jobId, 30_000);
 * ```
 */
export async function createAsyncTools(options: CreateAsyncToolsOptions): Promise<AsyncTools> {
  const definitions = options?.tools;
  if (!Array.isArray(definitions)) {
    throw new AsyncToolsError(
      "INVALID_DEFINITION",
      "createAsyncTools needs the async tools it runs: createAsyncTools({ tools: [myTool] }).",
    );
  }
  const pid = randomUUID().replaceAll("-", "");
  const group = options.group ?? "default";
  const retentionMs = options.retentionMs ?? DEFAULTS.retentionMs;
  const opened = await openStore(options.store, {
    pid,
    group,
    logger: resonateLogger,
    retentionMs,
    ...(options.durability ? { durability: options.durability } : {}),
    ...(options.postgres ? { postgres: options.postgres } : {}),
    ...(options.name ? { name: options.name } : {}),
  });
  const engineResonate: ResonateConfig = {
    network: definitions.length === 0 ? takingNoWork(opened.network) : opened.network,
    pid,
    group,
    ttl: options.leaseMs ?? DEFAULTS.leaseMs,
    logger: resonateLogger,
  };
  const meta = opened.jobs;
  const steps = opened.steps;
  const promises = new PromiseClient(opened.network);
  const telemetry = await loadTelemetry();
  const engine = new JobEngine(
    engineResonate,
    promises,
    meta,
    [
      { step: (jobId, _tool, stepId, name) => stepLogWatch(steps, jobId, stepId, name) },
      ...(telemetry === undefined ? [] : [telemetry]),
    ],
    (ids) => opened.settled(ids),
    opened.slots,
    opened.changes,
  );
  const { resonate } = engine;
  try {
    for (const tool of definitions) engine.define(tool);
  } catch (error) {
    await resonate.stop();
    await opened.close();
    throw error;
  }
  // A job's metadata outlives the job, so a probe can still say it expired rather than never was.
  if (Number.isFinite(retentionMs) && opened.role === "owner") {
    await meta.pruneBefore(Date.now() - retentionMs - DEFAULTS.metadataGraceMs);
    await steps.pruneBefore(Date.now() - retentionMs - DEFAULTS.metadataGraceMs);
  }
  log("info", "store opened", {
    store: opened.description,
    durable: opened.durable,
    role: opened.role,
    server: options.name,
  });
  // Every definition is registered: interrupted jobs can resume now, with or without a client.
  opened.recover();
  const runtime = new Runtime(options.name, opened, resonate, engine, meta, promises);
  internals.set(runtime, {
    engine,
    meta,
    promises,
    store: opened,
    retentionMs,
    assertOpen: () => runtime.assertOpen(),
  });
  return runtime;
}

class Runtime implements AsyncTools {
  readonly name: string | undefined;
  readonly store: StoreInfo;
  private readonly opened: Store;
  private readonly resonate: Resonate;
  private readonly engine: JobEngine;
  private readonly meta: JobIndex;
  private readonly promises: PromiseClient;
  private closed = false;

  constructor(
    name: string | undefined,
    opened: Store,
    resonate: Resonate,
    engine: JobEngine,
    meta: JobIndex,
    promises: PromiseClient,
  ) {
    this.name = name;
    this.opened = opened;
    this.resonate = resonate;
    this.engine = engine;
    this.meta = meta;
    this.promises = promises;
    this.store = {
      kind: opened.kind,
      description: opened.description,
      durable: opened.durable,
      get role() {
        return opened.role;
      },
    };
  }

  get tools(): readonly AnyAsyncTool[] {
    return this.engine.definitions();
  }

  async start<I extends z.ZodObject, O>(
    tool: AsyncTool<I, O>,
    input: z.input<I>,
    options: { fresh?: boolean } & CallerOptions = {},
  ): Promise<StartedJob<O>> {
    this.assertOpen();
    const known = this.engine.definition(tool.name);
    if (known === undefined) {
      throw new AsyncToolsError(
        "UNKNOWN_TOOL",
        `Async tool ${tool.name} is not one of this runtime's tools; list it in createAsyncTools({ tools }).`,
      );
    }
    const parsed = known.input.parse(input);
    return (await this.engine.start(known, parsed, options)) as StartedJob<O>;
  }

  probe(ids: readonly string[], options: CallerOptions = {}): Promise<JobSnapshot[]> {
    this.assertOpen();
    return Promise.all(ids.map((id) => this.engine.snapshot(id, false, scopeOf(options))));
  }

  wait(ids: readonly string[], options: WaitForJobsOptions): Promise<JobSnapshot[]> {
    this.assertOpen();
    return this.engine.wait([...ids], options.timeoutMs, {
      ...scopeOf(options),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  async waitFor<I extends z.ZodObject, O>(
    tool: AsyncTool<I, O>,
    id: string,
    timeoutMs: number,
    options: CallerOptions = {},
  ): Promise<JobSnapshot<O>> {
    this.assertOpen();
    const [snapshot] = await this.engine.wait([id], timeoutMs, scopeOf(options));
    if (snapshot?.tool !== undefined && snapshot.tool !== tool.name) {
      throw new AsyncToolsError(
        "UNKNOWN_TOOL",
        `Job ${id} belongs to ${snapshot.tool}, not to ${tool.name}.`,
      );
    }
    return snapshot as JobSnapshot<O>;
  }

  cancel(id: string, reason?: string, options: CallerOptions = {}): Promise<JobSnapshot> {
    this.assertOpen();
    return this.engine.cancel(id, reason, scopeOf(options));
  }

  list(options: ListOptions & CallerOptions = {}) {
    this.assertOpen();
    const { principal: _principal, ...query } = options;
    return this.engine.list({
      ...query,
      ...scopeOf(options),
      limit: options.limit ?? DEFAULTS.taskPageSize,
    });
  }

  get(id: string, options: CallerOptions = {}): Promise<JobDetail> {
    this.assertOpen();
    return readJobDetail(this.engine, this.promises, this.opened.steps, id, scopeOf(options));
  }

  retry(id: string, options: CallerOptions = {}): Promise<StartedJob> {
    this.assertOpen();
    const { engine, promises, resonate, meta } = this;
    return rerunJob({ engine, promises, resonate, meta }, id, scopeOf(options));
  }

  answer(
    id: string,
    answers: Readonly<Record<string, unknown>>,
    options: CallerOptions = {},
  ): Promise<AnswerOutcome> {
    this.assertOpen();
    return this.engine.answer(id, answers, scopeOf(options));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.engine.stop();
    await this.meta.flush().catch(() => undefined);
    // Recording stops before Resonate does: stopping it may close a store's connection (memory, custom).
    this.opened.steps.close();
    await this.resonate.stop();
    await this.opened.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  assertOpen(): void {
    if (this.closed) throw new AsyncToolsError("CLOSED", "These async tools were closed; create new ones.");
  }
}

/** The key of {@link OPERATOR}: a symbol no client input (JSON) can carry. */
const EVERY_PRINCIPAL = Symbol("async-tools:every-principal");

/**
 * Caller options that see every principal's jobs: for an operator's own tools in this package (the CLI, an
 * operator's dashboard). Not exported from the package root.
 */
export const OPERATOR: CallerOptions = Object.freeze({ [EVERY_PRINCIPAL]: true }) as unknown as CallerOptions;

/** The engine's scope for `options`, without an explicit `principal: undefined` (exactOptionalPropertyTypes). */
function scopeOf(options: CallerOptions): CallerScope {
  if ((options as { [EVERY_PRINCIPAL]?: boolean })[EVERY_PRINCIPAL] === true) return { everyone: true };
  return options.principal === undefined ? {} : { principal: options.principal };
}

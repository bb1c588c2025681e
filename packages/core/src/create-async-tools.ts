/**
 * The runtime: one Resonate instance on the chosen store, shared by every async tool registered on it.
 */
import { randomUUID } from "node:crypto";
import type { TaskStore } from "@modelcontextprotocol/sdk/experimental/tasks";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { ServerCapabilities } from "@modelcontextprotocol/sdk/types.js";
import type { Logger, Network } from "@resonatehq/sdk";
import { Resonate } from "@resonatehq/sdk/async";
import type { z } from "zod";
import type { AsyncTool } from "./define-async-tool.ts";
import { AsyncToolsError } from "./errors.ts";
import { log } from "./internal/log.ts";
import { JobEngine, type JobSnapshot } from "./jobs.ts";
import { registerTools } from "./register.ts";
import { openStore } from "./store/select.ts";
import type { JobIndex, Store, StoreRole } from "./store/store.ts";
import { DurableTaskStore } from "./tasks/durable-task-store.ts";
import { registerTaskTools, TASKS_CAPABILITY, taskStoreOf } from "./tasks/register-task-tools.ts";

/** Options of {@link createAsyncTools}. */
export interface CreateAsyncToolsOptions {
  /**
   * The server's name, e.g. the McpServer's: the default store is `async-tools/<name>/jobs.db` in the
   * user's data directory, so different servers keep different stores.
   */
  name?: string;
  /**
   * Where jobs live: `sqlite:<path>` or a path (default: `ASYNC_TOOLS_STORE`, then `RESONATE_URL`, then
   * `async-tools/<name>/jobs.db` in the user's data directory), `memory`, `http(s)://…` (a Resonate Server
   * or `async-tools store serve`), `postgres://…` (Resonate's Postgres schema), or a Resonate `Network`
   * object. Several processes may open one store file: the first owns it, the others join it.
   */
  store?: string | Network;
  /** How long finished jobs are kept before they are removed. Default 7 days. */
  retentionMs?: number;
  /** `full` also survives power loss on the embedded store (slower); `normal` survives any process crash. */
  durability?: "normal" | "full";
  /** Resonate worker group. Default `default`. */
  group?: string;
  /** Lease of a running task in ms, renewed by heartbeats; what a remote store waits after a crash. Default 60 s. */
  leaseMs?: number;
}

const DAY = 24 * 60 * 60 * 1000;

/**
 * The part of the McpServer's options that turns on native MCP Tasks over the jobs: spread it into
 * `new McpServer(info, { ...tools.serverOptions() })`. Merge `capabilities` yourself if you pass your own.
 */
export interface AsyncToolsServerOptions {
  /** The task store over the durable jobs, {@link AsyncTools.taskStore}. */
  taskStore: TaskStore;
  /** The `tasks` capability: list, cancel, and task-augmented `tools/call`. */
  capabilities: ServerCapabilities;
}

/** A set of async tools sharing one durable store. Create it with {@link createAsyncTools}. */
export class AsyncTools {
  /** What store the jobs live in. */
  /** What store the jobs live in, and whether this process owns it or joined it (see docs/scaling.md). */
  readonly store: { kind: Store["kind"]; description: string; durable: boolean; readonly role: StoreRole };
  private readonly resonate: Resonate;
  private readonly engine: JobEngine;
  private readonly opened: Store;
  private readonly meta: JobIndex;
  private readonly tasks: DurableTaskStore;
  private recovery: NodeJS.Immediate | undefined;
  private recovered = false;
  private closed = false;

  /** @internal Use {@link createAsyncTools}. */
  constructor(opened: Store, resonate: Resonate, meta: JobIndex, retentionMs = 7 * DAY) {
    this.opened = opened;
    this.resonate = resonate;
    this.meta = meta;
    this.engine = new JobEngine(resonate, opened.network, meta);
    this.tasks = new DurableTaskStore(this.engine, meta, { retentionMs });
    this.store = {
      kind: opened.kind,
      description: opened.description,
      durable: opened.durable,
      get role() {
        return opened.role;
      },
    };
  }

  /**
   * Registers the tools of each definition on `server`: start, probe, await, cancel, and (unless turned off
   * with `tasks: false`) a task-capable tool named after the definition, for clients that speak MCP Tasks.
   * The task tool needs a server built with {@link AsyncTools.serverOptions}; without it, it is left out
   * with a warning. Register every tool right after {@link createAsyncTools}: jobs interrupted by a crash
   * resume once the current tick of the event loop has registered them.
   */
  register(server: McpServer, ...tools: AsyncTool<z.ZodObject, unknown>[]): this {
    this.assertOpen();
    const withTasks = taskStoreOf(server) === this.tasks;
    const skipped: string[] = [];
    for (const tool of tools) {
      this.define(tool);
      registerTools(server, tool, this.engine);
      if (!tool.tasks) continue;
      if (withTasks) registerTaskTools(server, tool, this.engine);
      else skipped.push(tool.name);
    }
    if (skipped.length > 0) {
      log("warn", "task tools left out: build the McpServer with { ...tools.serverOptions() } to add them", {
        tools: skipped.join(","),
      });
    }
    return this;
  }

  /**
   * The MCP task store over these tools' durable jobs: the task ID is the job ID, and a task survives a
   * restart like its job. Pass it to the McpServer through {@link AsyncTools.serverOptions}.
   *
   * @example
   * ```ts
   * const server = new McpServer(info, { taskStore: tools.taskStore, capabilities: { tasks: { list: {} } } });
   * ```
   */
  get taskStore(): TaskStore {
    return this.tasks;
  }

  /**
   * The McpServer options that turn on native MCP Tasks (spec 2025-11-25) for the tools registered on it:
   * the {@link AsyncTools.taskStore} and the `tasks` capability.
   *
   * @example
   * ```ts
   * const server = new McpServer({ name: "my-server", version: "1.0.0" }, { ...tools.serverOptions() });
   * tools.register(server, slowSquare); // start_, probe_, await_, cancel_slow_square, and slow_square
   * ```
   */
  serverOptions(): AsyncToolsServerOptions {
    return { taskStore: this.tasks, capabilities: { tasks: TASKS_CAPABILITY } };
  }

  /** Registers the durable function of `tool` without exposing MCP tools (workers, scripts, tests). */
  define(...tools: AsyncTool<z.ZodObject, unknown>[]): this {
    this.assertOpen();
    for (const tool of tools) this.engine.define(tool);
    this.scheduleRecovery();
    return this;
  }

  /** Starts (or joins) the job for `input`, validated with the tool's schema. */
  async start<I extends z.ZodObject, O>(
    tool: AsyncTool<I, O>,
    input: z.input<I>,
    options: { fresh?: boolean } = {},
  ): Promise<JobSnapshot<O> & { created: boolean }> {
    this.assertOpen();
    this.define(tool as unknown as AsyncTool<z.ZodObject, unknown>);
    const parsed = tool.input.parse(input);
    const { snapshot, created } = await this.engine.start(
      tool as unknown as AsyncTool<z.ZodObject, unknown>,
      parsed,
      options,
    );
    return { ...(snapshot as JobSnapshot<O>), created };
  }

  /** The state of each job, without waiting. */
  probe(ids: string[]): Promise<JobSnapshot[]> {
    this.assertOpen();
    return Promise.all(ids.map((id) => this.engine.snapshot(id)));
  }

  /** Waits up to `timeoutMs` for the jobs to finish; returns each one's state, with results. */
  wait(ids: string[], timeoutMs: number): Promise<JobSnapshot[]> {
    this.assertOpen();
    return this.engine.wait(ids, timeoutMs);
  }

  /**
   * Waits up to `timeoutMs` for one job of `tool`; a completed job's `result` has the type `run` returns.
   *
   * @example
   * ```ts
   * const { job_id } = await tools.start(slowSquare, { n: 7 });
   * const done = await tools.waitFor(slowSquare, job_id, 30_000);
   * if (done.status === "completed") console.error(done.result?.square);
   * ```
   */
  async waitFor<I extends z.ZodObject, O>(
    tool: AsyncTool<I, O>,
    id: string,
    timeoutMs: number,
  ): Promise<JobSnapshot<O>> {
    this.assertOpen();
    const [snapshot] = await this.engine.wait([id], timeoutMs);
    if (snapshot?.tool !== undefined && snapshot.tool !== tool.name) {
      throw new AsyncToolsError(
        "INVALID_DEFINITION",
        `Job ${id} belongs to ${snapshot.tool}, not to ${tool.name}.`,
      );
    }
    return snapshot as JobSnapshot<O>;
  }

  /** Cancels a job that is still working. */
  cancel(id: string): Promise<JobSnapshot> {
    this.assertOpen();
    return this.engine.cancel(id);
  }

  /** Stops Resonate and closes the store. Jobs still running resume at the next start on the same store. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.recovery) clearImmediate(this.recovery);
    await this.meta.flush().catch(() => undefined);
    await this.resonate.stop();
    await this.opened.close();
  }

  /** {@link AsyncTools.close}, for `await using tools = await createAsyncTools()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private scheduleRecovery(): void {
    if (this.recovered || this.recovery) return;
    this.recovery = setImmediate(() => {
      this.recovery = undefined;
      this.recovered = true;
      if (!this.closed) this.opened.recover();
    });
  }

  private assertOpen(): void {
    if (this.closed) throw new AsyncToolsError("CLOSED", "These async tools were closed; create new ones.");
  }
}

/** Routes Resonate's logs to stderr; its default logger writes info to stdout, the MCP channel. */
const resonateLogger: Logger = {
  debug: (fields, msg) => log("debug", msg, { ...fields, source: "resonate" }),
  info: (fields, msg) => log("debug", msg, { ...fields, source: "resonate" }),
  warn: (fields, msg) => log("debug", msg, { ...fields, source: "resonate" }),
  error: (fields, msg) => log("warn", msg, { ...fields, source: "resonate" }),
};

/**
 * Opens the durable store and starts Resonate on it. Fails fast, with an {@link AsyncToolsError}, when the
 * store is malformed, locked by another process, corrupt, or unreachable.
 *
 * @example
 * ```ts
 * import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
 * import { createAsyncTools } from "@async-tools/core";
 *
 * const tools = await createAsyncTools({ store: process.env.ASYNC_TOOLS_STORE });
 * const server = new McpServer({ name: "my-server", version: "1.0.0" }, { ...tools.serverOptions() });
 * tools.register(server, slowSquare);
 * ```
 */
export async function createAsyncTools(options: CreateAsyncToolsOptions = {}): Promise<AsyncTools> {
  const pid = randomUUID().replaceAll("-", "");
  const group = options.group ?? "default";
  const retentionMs = options.retentionMs ?? 7 * DAY;
  const opened = await openStore(options.store, {
    pid,
    group,
    logger: resonateLogger,
    retentionMs,
    ...(options.durability ? { durability: options.durability } : {}),
    ...(options.name ? { name: options.name } : {}),
  });
  const resonate = new Resonate({
    network: opened.network,
    pid,
    group,
    ttl: options.leaseMs ?? 60_000,
    logger: resonateLogger,
  });
  const meta = opened.jobs;
  // A job's metadata outlives the job by a month, so a probe can still say it expired rather than never was.
  if (Number.isFinite(retentionMs) && opened.role === "owner")
    await meta.pruneBefore(Date.now() - retentionMs - 30 * DAY);
  log("info", "store opened", { store: opened.description, durable: opened.durable, role: opened.role });
  return new AsyncTools(opened, resonate, meta, retentionMs);
}

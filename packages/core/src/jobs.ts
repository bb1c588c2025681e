/**
 * The job model over Resonate durable promises: a job is a root durable promise whose ID is the job ID.
 * Starting, reading, waiting for and cancelling jobs live here, independent of MCP.
 */
import { randomUUID } from "node:crypto";
import { Codec, Exponential, type Network, Never, type RetryPolicy } from "@resonatehq/sdk";
import type { Context, Resonate } from "@resonatehq/sdk/async";
import type { z } from "zod";
import { type AsyncTool, baseJobIdOf, type JobContext } from "./define-async-tool.ts";
import { PermanentError } from "./errors.ts";
import { log } from "./internal/log.ts";
import { defaultJobId, runId } from "./job-id.ts";
import type { JobIndex } from "./store/store.ts";

/** A job's state, in MCP's task vocabulary where it fits. */
export type JobStatus = "working" | "completed" | "failed" | "cancelled" | "not_found" | "expired";

/** What probe and await report about one job; `R` is the result's type. Times are ISO 8601. */
export interface JobSnapshot<R = unknown> {
  job_id: string;
  status: JobStatus;
  /** The async tool (definition name) the job belongs to. */
  tool?: string;
  created_at?: string;
  completed_at?: string;
  /** Latest progress reported by the job's function. */
  progress?: { fraction: number; message?: string; updated_at: string };
  /** Why the job failed, was cancelled, or cannot be found. Never a stack trace. */
  error?: string;
  /** The result, for completed jobs, when asked for. */
  result?: R;
}

/** The raw durable promise record, as the network returns it. */
interface PromiseRecord {
  id: string;
  state: "pending" | "resolved" | "rejected" | "rejected_canceled" | "rejected_timedout";
  value?: { data?: string; headers?: Record<string, string> };
  tags?: Record<string, string>;
  createdAt?: number;
  settledAt?: number;
  timeoutAt: number;
}

const TOOL_TAG = "async-tools:tool";
const MAX_RUNS = 1000;

/** Runs and observes jobs of registered definitions on one Resonate instance. */
export class JobEngine {
  private readonly codec = new Codec();
  private readonly definitions = new Map<string, AsyncTool<z.ZodObject, unknown>>();
  private readonly running = new Map<string, AbortController>();
  private readonly starting = new Map<string, Promise<JobSnapshot>>();

  private readonly resonate: Resonate;
  private readonly network: Network;
  private readonly meta: JobIndex;

  constructor(resonate: Resonate, network: Network, meta: JobIndex) {
    this.resonate = resonate;
    this.network = network;
    this.meta = meta;
  }

  /** Registers the durable function of `tool` with Resonate. Idempotent per name. */
  define(tool: AsyncTool<z.ZodObject, unknown>): void {
    if (this.definitions.has(tool.name)) return;
    this.definitions.set(tool.name, tool);
    const stepRetry = retryPolicyOf(tool);
    const engine = this;
    const durable = async function durable(rctx: Context, input: unknown) {
      const controller = new AbortController();
      engine.running.set(rctx.id, controller);
      try {
        return await tool.run(
          engine.jobContext(rctx, tool.name, controller.signal, stepRetry),
          input as never,
        );
      } finally {
        if (engine.running.get(rctx.id) === controller) engine.running.delete(rctx.id);
      }
    };
    this.resonate.register(tool.name, durable, { version: tool.version });
  }

  /** The definition registered under `name`. */
  definition(name: string): AsyncTool<z.ZodObject, unknown> | undefined {
    return this.definitions.get(name);
  }

  private jobContext(
    rctx: Context,
    toolName: string,
    signal: AbortSignal,
    retryPolicy: RetryPolicy,
  ): JobContext {
    const meta = this.meta;
    const stepOptions = rctx.options({ retryPolicy, nonRetryableErrors: [PermanentError] });
    return {
      jobId: rctx.id,
      signal,
      resonate: rctx,
      run<T>(name: string, fn: () => T | Promise<T>) {
        const step = { [name]: async () => fn() }[name] as () => Promise<T>;
        return rctx.run(step, stepOptions) as PromiseLike<Awaited<T>>;
      },
      sleep(ms: number) {
        return rctx.sleep(ms);
      },
      progress(fraction: number, message?: string) {
        const clamped = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
        try {
          meta.progress(rctx.id, toolName, clamped, message?.slice(0, 500), Date.now());
        } catch (error) {
          // Progress is advice, not state: a store that cannot take it must not fail the job.
          log("warn", "progress not stored", { job: rctx.id, error });
        }
      },
    };
  }

  /**
   * Starts a job for validated `input`, or joins the one the same input already started. A cancelled job is
   * followed by a fresh run; `fresh` starts a new run even when the last one finished.
   */
  async start(
    tool: AsyncTool<z.ZodObject, unknown>,
    input: unknown,
    options: { fresh?: boolean } = {},
  ): Promise<{ snapshot: JobSnapshot; created: boolean }> {
    const base = baseJobIdOf(tool, input as never, defaultJobId);
    let n = 1;
    while (n <= MAX_RUNS) {
      const id = runId(base, n);
      const existing = await this.read(id);
      if (existing !== undefined) {
        if (existing.state === "rejected_canceled" || options.fresh) {
          n += 1;
          continue;
        }
        return { snapshot: await this.toSnapshot(existing, false), created: false };
      }
      // Concurrent starts of one job in this process: the first creates it, the others wait and then join it.
      const inflight = this.starting.get(id);
      if (inflight !== undefined) {
        await inflight.catch(() => undefined);
        continue;
      }
      const creation = this.create(tool, id, input);
      this.starting.set(id, creation);
      try {
        return { snapshot: await creation, created: true };
      } finally {
        this.starting.delete(id);
      }
    }
    throw new Error(`job ${base} has been run ${MAX_RUNS} times; refusing to start another`);
  }

  private async create(
    tool: AsyncTool<z.ZodObject, unknown>,
    id: string,
    input: unknown,
  ): Promise<JobSnapshot> {
    const now = Date.now();
    await this.resonate.run(
      id,
      tool.name,
      input,
      this.resonate.options({
        timeout: tool.timeoutMs,
        version: tool.version,
        retryPolicy: new Never(),
        tags: { [TOOL_TAG]: tool.name },
      }),
    );
    // The durable promise is the job; its metadata row comes second and off the answer's path, so a store
    // that refuses the job (a full disk) leaves nothing behind, and a row that cannot be written costs
    // listing, never the job.
    this.meta.recordSoon(id, tool.name, now);
    log("info", "job started", { job: id, tool: tool.name });
    return { job_id: id, status: "working", tool: tool.name, created_at: new Date(now).toISOString() };
  }

  /** The current state of `id`; with `withResult`, a completed job carries its result. */
  async snapshot(id: string, withResult = false): Promise<JobSnapshot> {
    const record = await this.read(id);
    if (record === undefined) {
      const row = await this.meta.get(id);
      if (row !== undefined) {
        return {
          job_id: id,
          status: "expired",
          tool: row.tool,
          created_at: new Date(row.createdAt).toISOString(),
          error:
            "This job finished long ago and its result was removed by the retention policy. Start it again.",
        };
      }
      return { job_id: id, status: "not_found", error: `No job has the ID ${id}.` };
    }
    return this.toSnapshot(record, withResult);
  }

  /**
   * Waits until every job in `ids` is done or `timeoutMs` elapses, whichever comes first, then reports
   * each. Never throws for "not yet": unfinished jobs come back `working`.
   */
  async wait(
    ids: string[],
    timeoutMs: number,
    options: { signal?: AbortSignal; onTick?: (snapshots: JobSnapshot[]) => void; tickMs?: number } = {},
  ): Promise<JobSnapshot[]> {
    let snapshots = await Promise.all(ids.map((id) => this.snapshot(id, true)));
    const pending = snapshots.filter((s) => s.status === "working").map((s) => s.job_id);
    if (pending.length === 0 || timeoutMs <= 0) return snapshots;

    let timer: NodeJS.Timeout | undefined;
    let ticker: NodeJS.Timeout | undefined;
    const finished = Promise.all(pending.map((id) => this.settled(id)));
    const elapsed = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      options.signal?.addEventListener("abort", () => resolve(), { once: true });
    });
    if (options.onTick) {
      const onTick = options.onTick;
      ticker = setInterval(() => {
        void Promise.all(ids.map((id) => this.snapshot(id))).then(onTick, () => undefined);
      }, options.tickMs ?? 2000);
    }
    try {
      await Promise.race([finished, elapsed]);
    } finally {
      clearTimeout(timer);
      clearInterval(ticker);
    }
    snapshots = await Promise.all(ids.map((id) => this.snapshot(id, true)));
    return snapshots;
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

  /** Cancels a job that is still working. A job that already finished is left as it is. */
  async cancel(id: string, reason = "cancelled by the client"): Promise<JobSnapshot> {
    const record = await this.read(id);
    if (record === undefined) return this.snapshot(id);
    if (record.state === "pending") {
      await this.network.send({
        kind: "promise.settle",
        head: { corrId: randomUUID(), version: "" },
        data: { id, state: "rejected_canceled", value: this.codec.encode(reason) },
      } as Parameters<Network["send"]>[0]);
      this.running.get(id)?.abort(new Error(reason));
      log("info", "job cancelled", { job: id });
    }
    return this.snapshot(id);
  }

  private async read(id: string): Promise<PromiseRecord | undefined> {
    const res = (await this.network.send({
      kind: "promise.get",
      head: { corrId: randomUUID(), version: "" },
      data: { id },
    } as Parameters<Network["send"]>[0])) as { head: { status: number }; data: unknown };
    if (res.head.status === 404) return undefined;
    if (res.head.status !== 200) {
      throw new Error(`the store answered ${res.head.status} reading job ${id}: ${JSON.stringify(res.data)}`);
    }
    return (res.data as { promise: PromiseRecord }).promise;
  }

  private async toSnapshot(record: PromiseRecord, withResult: boolean): Promise<JobSnapshot> {
    const tool = record.tags?.[TOOL_TAG];
    const snapshot: JobSnapshot = { job_id: record.id, status: statusOf(record.state) };
    if (tool !== undefined) snapshot.tool = tool;
    if (record.createdAt !== undefined) snapshot.created_at = new Date(record.createdAt).toISOString();
    if (record.state !== "pending" && record.settledAt !== undefined) {
      snapshot.completed_at = new Date(record.settledAt).toISOString();
    }
    const progress = (await this.meta.get(record.id))?.progress;
    if (progress !== undefined) {
      snapshot.progress = {
        fraction: record.state === "resolved" ? 1 : progress.fraction,
        ...(progress.message !== undefined ? { message: progress.message } : {}),
        updated_at: new Date(progress.updatedAt).toISOString(),
      };
    }
    switch (record.state) {
      case "resolved":
        if (withResult) snapshot.result = this.decode(record);
        break;
      case "rejected":
        snapshot.error = errorMessage(this.decode(record));
        break;
      case "rejected_canceled": {
        const reason = this.decode(record);
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

  private decode(record: PromiseRecord): unknown {
    try {
      return this.codec.decode(record.value as never);
    } catch {
      return undefined;
    }
  }
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

function retryPolicyOf(tool: AsyncTool<z.ZodObject, unknown>): RetryPolicy {
  const { attempts, initialDelayMs, factor, maxDelayMs } = tool.retry;
  if (attempts <= 1) return new Never();
  // Resonate's exponential policy waits delay * factor^attempt before attempt+1, starting at attempt 1.
  return new Exponential({
    delay: initialDelayMs / factor,
    factor,
    maxRetries: attempts - 1,
    maxDelay: maxDelayMs,
  });
}

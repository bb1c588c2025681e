/**
 * The tools every benchmark and reliability check runs against: a plain no-op tool (the baseline), a
 * durable no-op job, and durable jobs whose steps leave a line in a side-effect file outside the store, so a
 * harness can count how often each step really ran: three short steps, one long step, a step that calls an
 * upstream over HTTP, and a tool with two versions. Environment knobs (`BENCH_*`) shape the server process.
 */
import { appendFileSync } from "node:fs";
import {
  type AnyAsyncTool,
  type AsyncTools,
  createAsyncTools,
  defineAsyncTool,
  RetryableError,
} from "@async-tools/core";
import { registerTools } from "@async-tools/core/mcp-v1";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";

/** A wall-clock timestamp in ms with sub-millisecond precision, comparable across processes. */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}

/** The durable no-op: returns at once (or after `delay_ms`) with the time it finished. */
export const noopJob = defineAsyncTool({
  name: "noop_job",
  description: "Does nothing, durably; `n` makes each input (and so each job) new",
  input: z.object({
    n: z.number().int(),
    delay_ms: z.number().int().min(0).max(60_000).default(0),
  }),
  output: z.object({ n: z.number(), finished_at: z.number() }),
  retry: false,
  toolNames: { task: false },
  run: async (_ctx, { n, delay_ms }) => {
    if (delay_ms > 0) await new Promise((resolve) => setTimeout(resolve, delay_ms));
    return { n, finished_at: preciseNow() };
  },
});

/** Where the three-step job writes `<job_id> <step>` lines; unset, the steps write nothing. */
export const SIDE_EFFECTS_ENV = "BENCH_SIDE_EFFECTS";

/**
 * Three durable steps. Each appends `<job_id> <step>` to the side-effect file as it begins, then works for
 * `step_ms` and returns `n * step`, so the result is `6n` and a step that runs twice leaves two lines.
 */
export function threeStepJob(sideEffects: string | undefined = process.env[SIDE_EFFECTS_ENV]) {
  return defineAsyncTool({
    name: "three_step",
    description: "Runs three durable steps, each leaving a line in a side-effect file",
    input: z.object({
      n: z.number().int(),
      step_ms: z.number().int().min(0).max(5_000).default(0),
    }),
    output: z.object({ n: z.number(), total: z.number() }),
    retry: false,
    toolNames: { task: false },
    run: async (ctx, { n, step_ms }) => {
      let total = 0;
      for (const step of [1, 2, 3]) {
        total += await ctx.run(`step${step}`, async () => {
          if (sideEffects) appendFileSync(sideEffects, `${ctx.jobId} ${step}\n`);
          if (step_ms > 0) await new Promise((resolve) => setTimeout(resolve, step_ms));
          return n * step;
        });
      }
      return { n, total };
    },
  });
}

/**
 * One durable step named `work` that appends `<job_id> 1` to the side-effect file as it begins, then works
 * for `step_ms` (up to ten minutes): a step longer than the task lease, which must still run once.
 */
export function longStepJob(sideEffects: string | undefined = process.env[SIDE_EFFECTS_ENV]) {
  return defineAsyncTool({
    name: "long_step",
    description: "Runs one long durable step that leaves a line in a side-effect file as it begins",
    input: z.object({ n: z.number().int(), step_ms: z.number().int().min(0).max(600_000).default(0) }),
    output: z.object({ n: z.number() }),
    retry: false,
    toolNames: { task: false },
    run: async (ctx, { n, step_ms }) => {
      const done = await ctx.run("work", async () => {
        if (sideEffects) appendFileSync(sideEffects, `${ctx.jobId} 1\n`);
        await new Promise((resolve) => setTimeout(resolve, step_ms));
        return n;
      });
      return { n: done };
    },
  });
}

/** The milliseconds an HTTP `Retry-After` asks for (seconds or an HTTP date); `undefined` when absent or bad. */
export function retryAfterMsOf(header: string | null, now = Date.now()): number | undefined {
  const value = header?.trim() ?? "";
  if (value === "") return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** How the `upstream` tool reaches its upstream, and its policies. */
export interface UpstreamJobOptions {
  /** Base URL of the upstream; the step calls `<url>/work?job=<job_id>&n=<n>`. */
  url: string;
  /** Jobs of the tool that run at once; the core's default when left out. */
  concurrency?: number;
  /** The tool's job timeout (`timeoutMs`); the core's default when left out. */
  timeoutMs?: number;
}

/** The `upstream` tool's retry policy: three attempts, 0.5 s then 1 s apart unless the upstream says when. */
export const UPSTREAM_RETRY = { attempts: 3, initialDelayMs: 500, factor: 2 } as const;

/**
 * One durable step, `fetch`, that calls the upstream once per attempt, as a real tool calls a rate-limited
 * API: 429 and 503 become a {@link RetryableError} carrying the `Retry-After` delay, another non-2xx answer a
 * plain error, and `timeout_ms` (0: none) bounds each attempt. The request follows the job's abort signal.
 */
export function upstreamJob(options: UpstreamJobOptions) {
  return defineAsyncTool({
    name: "upstream",
    description: "Calls an upstream HTTP API once in a durable step, retrying as it asks",
    input: z.object({ n: z.number().int(), timeout_ms: z.number().int().min(0).max(600_000).default(0) }),
    output: z.object({ n: z.number(), status: z.number() }),
    retry: UPSTREAM_RETRY,
    toolNames: { task: false },
    ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    run: async (ctx, { n, timeout_ms }) => {
      const status = await ctx.run("fetch", async () => {
        const url = `${options.url}/work?job=${encodeURIComponent(ctx.jobId)}&n=${n}`;
        const timeout = timeout_ms > 0 ? AbortSignal.timeout(timeout_ms) : undefined;
        // The job's signal too: a job cancelled (or timed out) must not keep its request open.
        const signal = timeout ? AbortSignal.any([ctx.signal, timeout]) : ctx.signal;
        let response: Response;
        try {
          response = await fetch(url, { signal });
          await response.arrayBuffer();
        } catch (error) {
          if (timeout?.aborted) throw new Error(`the upstream did not answer within ${timeout_ms} ms`);
          throw error;
        }
        if (response.status === 429 || response.status === 503) {
          const retryAfterMs = retryAfterMsOf(response.headers.get("retry-after"));
          throw new RetryableError(
            `the upstream answered ${response.status}`,
            retryAfterMs === undefined ? {} : { retryAfterMs },
          );
        }
        if (!response.ok) throw new Error(`the upstream answered ${response.status}`);
        return response.status;
      });
      return { n, status };
    },
  });
}

/**
 * Version `version` of the `versioned` tool: its step `work` appends `<job_id> <version>` to the side-effect
 * file as it begins and holds for `hold_ms`; the result names the version whose code ran. `requires` adds a
 * required string field to the input, as a careless change of schema under one version number would.
 */
export function versionedJob(
  version: number,
  sideEffects: string | undefined = process.env[SIDE_EFFECTS_ENV],
  requires?: string,
) {
  const base = z.object({ n: z.number().int(), hold_ms: z.number().int().min(0).max(60_000).default(0) });
  return defineAsyncTool({
    name: "versioned",
    description: "Runs one durable step and says which version of its code ran",
    // The extra field is checked, never read: typed as the base, so `run` sees `n` and `hold_ms` as numbers.
    input:
      requires === undefined ? base : (base.extend({ [requires]: z.string() }) as unknown as typeof base),
    output: z.object({ n: z.number(), version: z.number() }),
    retry: false,
    version,
    toolNames: { task: false },
    run: async (ctx, { n, hold_ms }) => {
      await ctx.run("work", async () => {
        if (sideEffects) appendFileSync(sideEffects, `${ctx.jobId} ${version}\n`);
        await new Promise((resolve) => setTimeout(resolve, hold_ms));
      });
      return { n, version };
    },
  });
}

/** The task lease of the server process, in ms (default: the core's). */
export const LEASE_ENV = "BENCH_LEASE_MS";
/** Base URL of the upstream the `upstream` tool calls; unset, the server has no `upstream` tool. */
export const UPSTREAM_ENV = "BENCH_UPSTREAM";
/** `concurrency` of the `upstream` tool (default: the core's). */
export const UPSTREAM_CONCURRENCY_ENV = "BENCH_UPSTREAM_CONCURRENCY";
/** Versions of the `versioned` tool the server registers, e.g. `1`, `2` or `1,2`; unset, none. */
export const VERSIONS_ENV = "BENCH_VERSIONS";
/** A field every version of `versioned` requires in its input (a schema changed under jobs); unset, none. */
export const VERSIONED_REQUIRES_ENV = "BENCH_VERSIONED_REQUIRES";

/** What the bench runtime runs beyond its fixed tools. */
export interface BenchOptions {
  leaseMs?: number;
  /** The SQLite store's durability; the store's default when absent. */
  durability?: "normal" | "full";
  upstream?: UpstreamJobOptions;
  versions?: number[];
  /** A field the `versioned` tool's input requires. */
  versionedRequires?: string;
}

/** {@link BenchOptions} from the `BENCH_*` environment knobs. */
export function benchOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): BenchOptions {
  const number = (name: string): number | undefined => {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === "") return undefined;
    const value = Number(raw);
    if (!(Number.isInteger(value) && value > 0))
      throw new Error(`${name} must be a positive integer, got ${raw}`);
    return value;
  };
  const options: BenchOptions = {};
  const leaseMs = number(LEASE_ENV);
  if (leaseMs !== undefined) options.leaseMs = leaseMs;
  const url = env[UPSTREAM_ENV]?.trim();
  if (url) {
    const concurrency = number(UPSTREAM_CONCURRENCY_ENV);
    options.upstream = { url, ...(concurrency === undefined ? {} : { concurrency }) };
  }
  const versions = env[VERSIONS_ENV]?.trim();
  if (versions) options.versions = versions.split(",").map(Number);
  const requires = env[VERSIONED_REQUIRES_ENV]?.trim();
  if (requires) options.versionedRequires = requires;
  return options;
}

/**
 * A runtime on `store` with the bench's durable tools: `noop_job`, `three_step` and `long_step`, plus
 * `upstream` and the versions of `versioned` that `options` (by default the environment) asks for.
 */
export function createBenchRuntime(
  store: string,
  sideEffects?: string,
  options: BenchOptions = benchOptionsFromEnv(),
): Promise<AsyncTools> {
  const tools: AnyAsyncTool[] = [noopJob, threeStepJob(sideEffects), longStepJob(sideEffects)];
  if (options.upstream) tools.push(upstreamJob(options.upstream));
  for (const version of options.versions ?? [])
    tools.push(versionedJob(version, sideEffects, options.versionedRequires));
  return createAsyncTools({
    name: "bench",
    store,
    tools,
    ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
    ...(options.durability === undefined ? {} : { durability: options.durability }),
  });
}

/** An McpServer with the plain `noop` tool and the runtime's durable tools. */
export function buildBenchServer(tools: AsyncTools): McpServer {
  const server = new McpServer({ name: "async-tools-bench", version: "0.0.0" });
  server.registerTool(
    "noop",
    {
      description: "Does nothing and answers at once: the baseline of every ratio",
      inputSchema: { n: z.number().int() },
    },
    async ({ n }) => ({ content: [{ type: "text", text: String(n) }] }),
  );
  registerTools(server, tools);
  return server;
}

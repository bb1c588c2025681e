/**
 * The tools every benchmark and reliability check runs against: a plain no-op tool (the baseline), a
 * durable no-op job, and a three-step durable job whose steps leave a line in a side-effect file outside the
 * store, so a harness can count how often each step really ran.
 */
import { appendFileSync } from "node:fs";
import { type AsyncTools, createAsyncTools, defineAsyncTool } from "@async-tools/core";
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

/** A runtime with the bench's two durable tools on `store`. */
export function createBenchRuntime(
  store: string,
  sideEffects?: string,
  durability?: "normal" | "full",
): Promise<AsyncTools> {
  return createAsyncTools({
    name: "bench",
    store,
    tools: [noopJob, threeStepJob(sideEffects)],
    ...(durability ? { durability } : {}),
  });
}

/** An McpServer with the plain `noop` tool and the runtime's two durable tools. */
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

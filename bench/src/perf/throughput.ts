/**
 * Throughput: durable jobs started and completed per second by 1, 10 and 100 concurrent clients, each with
 * its own MCP connection (a server per connection, all on one set of async tools on the SQLite store), each
 * looping start then await. The baseline is the same clients looping the plain `noop` tool.
 */
import { join } from "node:path";
import { tempDir } from "@async-tools/test-helpers/temp";
import { createBenchRuntime } from "../lib/bench-server.ts";
import { connectInProcess } from "../lib/in-process.ts";
import { awaitJobs, type Caller, startJob } from "../lib/mcp.ts";
import { rate } from "../lib/rates.ts";
import { fresh, type RunOptions, type ScenarioResult } from "../lib/scenario.ts";
import { formatTable, showRatio, showSpread, spread } from "../lib/stats.ts";

/** Runs `work` in a loop on every client, each on its own connection, for `ms`; returns completions per second. */
function perClient(callers: Caller[], ms: number, work: (caller: Caller) => Promise<void>): Promise<number> {
  return rate(callers.length, ms, (i) => work(callers[i] as Caller));
}

async function durableJob(caller: Caller): Promise<void> {
  const { id } = await startJob(caller, "noop_job", { n: fresh() });
  const [job] = await awaitJobs(caller, "noop_job", [id], 30_000);
  if (job?.status !== "completed") throw new Error(`job ${id} ended ${job?.status}: ${job?.error ?? ""}`);
}

/** Measures jobs per second with 1, 10 and 100 clients against plain calls per second. */
export async function throughput(options: RunOptions): Promise<ScenarioResult> {
  const rounds = options.quick ? 2 : 5;
  const windowMs = options.quick ? 1_000 : 2_000;
  using dir = tempDir("bench-throughput");
  const tools = await createBenchRuntime(`sqlite:${join(dir.path, "jobs.db")}`);
  const rows: string[][] = [];
  const figures: Record<string, unknown>[] = [];
  try {
    for (const clients of [1, 10, 100]) {
      const callers = await Promise.all(Array.from({ length: clients }, () => connectInProcess(tools)));
      try {
        await perClient(callers, 300, durableJob);
        const jobs: number[] = [];
        const plain: number[] = [];
        for (let round = 0; round < rounds; round++) {
          plain.push(
            await perClient(callers, windowMs, async (c) => void (await c.call("noop", { n: fresh() }))),
          );
          jobs.push(await perClient(callers, windowMs, durableJob));
        }
        const ratio = spread(jobs.map((j, i) => j / (plain[i] ?? Number.NaN)));
        rows.push([
          String(clients),
          showSpread(spread(jobs), 0),
          showSpread(spread(plain), 0),
          showRatio(ratio),
        ]);
        figures.push({
          clients,
          jobs_per_s: spread(jobs),
          plain_calls_per_s: spread(plain),
          jobs_vs_plain: ratio,
        });
      } finally {
        for (const caller of callers) await caller.close();
      }
    }
  } finally {
    await tools.close();
  }
  const table = formatTable(
    `Throughput (in-memory transport, SQLite store): per second, ${rounds} rounds of ${windowMs / 1000} s; median (min-max)`,
    ["clients", "jobs started+completed/s", "plain calls/s", "jobs/plain"],
    rows,
  );
  return { name: "throughput", table, figures: { rows: figures }, checks: [] };
}

/**
 * In-flight load: start and probe latency on a server with 1,000 jobs in flight against one with 20,000
 * (5,000 with `--quick`), both in this process over the in-memory transport on SQLite stores, measured in
 * interleaved rounds. The jobs in flight are durable no-ops sleeping a minute, so each holds a pending
 * promise, an acquired task and its timeouts for the whole measurement.
 */
import { join } from "node:path";
import type { AsyncTools } from "@async-tools/core";
import { tempDir } from "@async-tools/test-helpers/temp";
import { createBenchRuntime } from "../lib/bench-server.ts";
import { connectInProcess } from "../lib/in-process.ts";
import { type Caller, startJob } from "../lib/mcp.ts";
import { fresh, type RunOptions, type ScenarioResult } from "../lib/scenario.ts";
import { formatTable, median, quantile, showRatio, showSpread, spread, verdict } from "../lib/stats.ts";

/** How long the jobs in flight sleep: longer than seeding and measuring together. */
const IN_FLIGHT_MS = 60_000;

interface Server {
  inFlight: number;
  tools: AsyncTools;
  caller: Caller;
}

async function seed(caller: Caller, count: number): Promise<void> {
  for (let i = 0; i < count; i += 500) {
    const batch = Math.min(500, count - i);
    await Promise.all(
      Array.from({ length: batch }, () =>
        startJob(caller, "noop_job", { n: fresh(), delay_ms: IN_FLIGHT_MS }),
      ),
    );
  }
}

/** One round on `server`: `count` starts of a fresh no-op job, each followed by a probe of it. */
async function round(server: Server, count: number): Promise<{ start: number[]; probe: number[] }> {
  const start: number[] = [];
  const probe: number[] = [];
  for (let i = 0; i < count; i++) {
    let began = performance.now();
    const { id } = await startJob(server.caller, "noop_job", { n: fresh() });
    start.push(performance.now() - began);
    began = performance.now();
    await server.caller.call("probe_noop_job", { job_ids: [id] });
    probe.push(performance.now() - began);
  }
  return { start, probe };
}

/** Measures start and probe latency with few and many jobs in flight. */
export async function inFlight(options: RunOptions): Promise<ScenarioResult> {
  const sizes = [1_000, options.quick ? 5_000 : 20_000];
  const rounds = options.quick ? 3 : 7;
  const count = options.quick ? 100 : 200;
  using dir = tempDir("bench-in-flight");
  const servers: Server[] = [];
  try {
    for (const size of sizes) {
      const tools = await createBenchRuntime(`sqlite:${join(dir.path, `${size}.db`)}`);
      const caller = await connectInProcess(tools);
      servers.push({ inFlight: size, tools, caller });
      const began = performance.now();
      await seed(caller, size);
      process.stderr.write(
        `bench: ${size} jobs in flight after ${Math.round(performance.now() - began)} ms\n`,
      );
    }
    for (const server of servers) await round(server, 50);
    const stats = servers.map((server) => ({
      server,
      startP50: [] as number[],
      startP90: [] as number[],
      probeP99: [] as number[],
    }));
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? stats : [...stats].reverse();
      for (const into of order) {
        const { start, probe } = await round(into.server, count);
        into.startP50.push(median(start));
        into.startP90.push(quantile(start, 0.9));
        into.probeP99.push(quantile(probe, 0.99));
      }
    }
    const base = stats[0];
    if (base === undefined) throw new Error("in flight: no store was measured");
    const rows: string[][] = [];
    const figures: Record<string, unknown>[] = [];
    const checks: ScenarioResult["checks"] = [];
    for (const [i, s] of stats.entries()) {
      const { server } = s;
      const startRatio = spread(s.startP50.map((v, k) => v / (base.startP50[k] ?? Number.NaN)));
      const probeRatio = spread(s.probeP99.map((v, k) => v / (base.probeP99[k] ?? Number.NaN)));
      rows.push([
        server.inFlight.toLocaleString("en-US"),
        showSpread(spread(s.startP50), 3),
        showSpread(spread(s.startP90), 3),
        showRatio(startRatio),
        showSpread(spread(s.probeP99), 3),
        showRatio(probeRatio),
        i === 0 ? "-" : verdict(startRatio.median <= 1.5 && probeRatio.median <= 1.5),
      ]);
      figures.push({
        in_flight: server.inFlight,
        start_p50_ms: spread(s.startP50),
        start_p90_ms: spread(s.startP90),
        probe_p99_ms: spread(s.probeP99),
        start_vs_1k: startRatio,
        probe_p99_vs_1k: probeRatio,
      });
      if (i > 0) {
        checks.push({
          name: `start p50 with ${server.inFlight} in flight within 1.5x of 1k`,
          ok: startRatio.median <= 1.5,
          detail: showRatio(startRatio),
        });
        checks.push({
          name: `probe p99 with ${server.inFlight} in flight within 1.5x of 1k`,
          ok: probeRatio.median <= 1.5,
          detail: showRatio(probeRatio),
        });
      }
    }
    return {
      name: "in_flight",
      table: formatTable(
        `Jobs in flight (in-memory transport, SQLite): ${rounds} interleaved rounds of ${count} starts, each followed by a probe; median (min-max) over rounds`,
        [
          "in flight",
          "start p50 ms",
          "start p90 ms",
          "start vs 1k",
          "probe p99 ms",
          "probe p99 vs 1k",
          "<=1.5x",
        ],
        rows,
      ),
      figures: { rounds, calls_per_round: count, rows: figures },
      checks,
    };
  } finally {
    for (const server of servers) {
      await server.caller.close();
      await server.tools.close();
    }
  }
}

/**
 * Scale: start latency (through MCP over stdio) and the server's RSS on a store already holding 1k, 10k and
 * 100k completed jobs, and the store's bytes per job. Jobs are seeded in this process through
 * `tools.start` + `tools.wait` in batches, then the store is closed and a fresh server process opens it.
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "@async-tools/test-helpers/temp";
import { createBenchRuntime, noopJob } from "../lib/bench-server.ts";
import { startStdioServer } from "../lib/child.ts";
import { awaitJobs, type Caller, startJob } from "../lib/mcp.ts";
import { fresh, type RunOptions, type ScenarioResult } from "../lib/scenario.ts";
import { formatTable, median, showRatio, showSpread, spread, verdict } from "../lib/stats.ts";

const SEED_BATCH = 1000;
const MB = 1024 * 1024;

/** Adds `count` completed no-op jobs to the store, `SEED_BATCH` at a time; returns this process's peak RSS. */
async function seed(store: string, count: number): Promise<{ seconds: number; peakRss: number }> {
  const tools = await createBenchRuntime(store);
  const began = performance.now();
  let peakRss = process.memoryUsage().rss;
  try {
    for (let done = 0; done < count; done += SEED_BATCH) {
      const size = Math.min(SEED_BATCH, count - done);
      const started = await Promise.all(
        Array.from({ length: size }, () => tools.start(noopJob, { n: fresh() })),
      );
      const jobs = await tools.wait(
        started.map((s) => s.jobId),
        { timeoutMs: 120_000 },
      );
      const unfinished = jobs.filter((job) => job.status !== "completed").length;
      if (unfinished > 0) throw new Error(`${unfinished} seeded jobs did not complete`);
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }
  } finally {
    await tools.close();
  }
  return { seconds: (performance.now() - began) / 1000, peakRss };
}

function storeBytes(path: string): number {
  let total = 0;
  for (const file of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(file)) total += statSync(file).size;
  return total;
}

async function blockMedian(count: number, fn: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const began = performance.now();
    await fn();
    times.push(performance.now() - began);
  }
  return median(times);
}

/** Per-round median latencies of plain calls and of starts on `caller`. */
async function startLatency(caller: Caller, rounds: number, count: number) {
  const noop: number[] = [];
  const start: number[] = [];
  // Round -1 warms the fresh process up (JIT, caches) and is not counted.
  for (let round = -1; round < rounds; round++) {
    const ids: string[] = [];
    const noopMs = await blockMedian(count, () => caller.call("noop", { n: fresh() }));
    const startMs = await blockMedian(count, async () =>
      ids.push((await startJob(caller, "noop_job", { n: fresh() })).id),
    );
    await awaitJobs(caller, "noop_job", ids, 60_000);
    if (round < 0) continue;
    noop.push(noopMs);
    start.push(startMs);
  }
  return { noop, start };
}

/** Measures start latency, RSS and store size as the store grows. */
export async function scale(options: RunOptions): Promise<ScenarioResult> {
  const sizes = options.quick ? [1_000, 10_000] : [1_000, 10_000, 100_000];
  const rounds = options.quick ? 3 : 5;
  const count = 100;
  using dir = tempDir("bench-scale");
  const path = join(dir.path, "jobs.db");
  const store = `sqlite:${path}`;
  let held = 0;
  const measured: {
    jobs: number;
    seedSeconds: number;
    seedPeakRss: number;
    bytes: number;
    readyMs: number;
    rssReady: number;
    rssAfter: number;
    noop: number[];
    start: number[];
  }[] = [];
  for (const size of sizes) {
    process.stderr.write(`bench: scale: seeding up to ${size} jobs...\n`);
    const seeded = await seed(store, size - held);
    held = size;
    const bytes = storeBytes(path);
    const began = performance.now();
    const server = await startStdioServer({ store });
    const readyMs = performance.now() - began;
    try {
      const rssReady = server.rss();
      const { noop, start } = await startLatency(server, rounds, count);
      held += (rounds + 1) * count;
      measured.push({
        jobs: size,
        seedSeconds: seeded.seconds,
        seedPeakRss: seeded.peakRss,
        bytes,
        readyMs,
        rssReady,
        rssAfter: server.rss(),
        noop,
        start,
      });
    } finally {
      await server.close();
    }
  }
  const base = measured[0];
  const last = measured.at(-1);
  if (base === undefined || last === undefined) throw new Error("scale: no store size was measured");
  const rows: string[][] = [];
  const figures: Record<string, unknown>[] = [];
  for (const m of measured) {
    const latencyRatio = spread(m.start.map((s, i) => s / (base.start[i] ?? Number.NaN)));
    const startVsPlain = spread(m.start.map((s, i) => s / (m.noop[i] ?? Number.NaN)));
    const rssRatio = m.rssAfter / base.rssAfter;
    rows.push([
      m.jobs.toLocaleString("en"),
      showSpread(spread(m.start), 3),
      showRatio(startVsPlain),
      showRatio(latencyRatio),
      (m.rssReady / MB).toFixed(0),
      (m.rssAfter / MB).toFixed(0),
      `${rssRatio.toFixed(2)}x`,
      (m.bytes / MB).toFixed(1),
      (m.bytes / m.jobs).toFixed(0),
      m.readyMs.toFixed(0),
      `${(m.seedPeakRss / MB).toFixed(0)}`,
    ]);
    figures.push({
      jobs: m.jobs,
      start_p50_ms: spread(m.start),
      noop_p50_ms: spread(m.noop),
      start_vs_plain: startVsPlain,
      start_vs_smallest_store: latencyRatio,
      server_rss_ready_mb: m.rssReady / MB,
      server_rss_after_starts_mb: m.rssAfter / MB,
      rss_vs_smallest_store: rssRatio,
      store_mb: m.bytes / MB,
      store_bytes_per_job: m.bytes / m.jobs,
      server_ready_ms: m.readyMs,
      seed_seconds: m.seedSeconds,
      seed_jobs_per_s:
        (m.jobs - (measured.indexOf(m) === 0 ? 0 : (measured[measured.indexOf(m) - 1]?.jobs ?? 0))) /
        m.seedSeconds,
      seeding_process_peak_rss_mb: m.seedPeakRss / MB,
    });
  }
  const latencyGrowth = median(last.start) / median(base.start);
  const rssGrowth = last.rssAfter / base.rssAfter;
  const [flat, bounded] = [
    {
      name: `start latency flat: ${last.jobs.toLocaleString("en")} jobs within 1.5x of 1,000`,
      ok: latencyGrowth <= 1.5,
      detail: `${latencyGrowth.toFixed(2)}x`,
    },
    {
      name: `server RSS bounded: ${last.jobs.toLocaleString("en")} jobs within 1.5x of 1,000`,
      ok: rssGrowth <= 1.5,
      detail: `${rssGrowth.toFixed(2)}x (${(base.rssAfter / MB).toFixed(0)} -> ${(last.rssAfter / MB).toFixed(0)} MB)`,
    },
  ];
  const checks = [flat, bounded];
  const table = formatTable(
    `Scale (stdio, SQLite store): ${rounds} rounds x ${count} starts on a store of N completed jobs; median (min-max)`,
    [
      "jobs in store",
      "start ms",
      "start/noop",
      "start vs 1k",
      "RSS ready MB",
      "RSS after MB",
      "RSS vs 1k",
      "store MB",
      "bytes/job",
      "ready ms",
      "seeder peak RSS MB",
    ],
    rows,
  );
  return {
    name: "scale",
    table: `${table}\nTargets: flat latency ${verdict(flat.ok)}, bounded memory ${verdict(bounded.ok)}.`,
    figures: { rows: figures },
    checks,
  };
}

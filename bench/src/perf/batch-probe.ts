/**
 * Batch probe: one `probe_*` call carrying 1,000 job IDs (all completed), against a probe of one ID on the
 * same server, in memory and over stdio, on the SQLite store.
 */
import { join } from "node:path";
import { structured } from "@async-tools/test-helpers/mcp";
import { tempDir } from "@async-tools/test-helpers/temp";
import { openCaller } from "../lib/in-process.ts";
import { awaitJobs, type Caller, startJob } from "../lib/mcp.ts";
import { fresh, type RunOptions, type ScenarioResult } from "../lib/scenario.ts";
import { formatTable, median, showRatio, showSpread, spread } from "../lib/stats.ts";

const BATCH = 1000;

/** Starts `count` durable no-op jobs, 50 calls at a time, and waits until all are completed. */
export async function seedThroughMcp(caller: Caller, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i += 50) {
    const chunk = Math.min(50, count - i);
    const started = await Promise.all(
      Array.from({ length: chunk }, () => startJob(caller, "noop_job", { n: fresh() })),
    );
    ids.push(...started.map((s) => s.id));
  }
  const jobs = await awaitJobs(caller, "noop_job", ids, 120_000);
  const unfinished = jobs.filter((job) => job.status !== "completed");
  if (unfinished.length > 0) throw new Error(`${unfinished.length} seeded jobs did not complete`);
  return ids;
}

async function probeMs(caller: Caller, ids: string[]): Promise<number> {
  const began = performance.now();
  const out = structured<{ jobs: { status: string }[] }>(
    await caller.call("probe_noop_job", { job_ids: ids }),
  );
  const elapsed = performance.now() - began;
  if (out.jobs.length !== ids.length || out.jobs.some((job) => job.status !== "completed")) {
    throw new Error("the batch probe did not report every job completed");
  }
  return elapsed;
}

/** Measures a 1,000-ID probe against a one-ID probe. */
export async function batchProbe(options: RunOptions): Promise<ScenarioResult> {
  const rounds = options.quick ? 3 : 7;
  using dir = tempDir("bench-probe");
  const rows: string[][] = [];
  const figures: Record<string, unknown>[] = [];
  for (const transport of ["in-memory", "stdio"] as const) {
    const store = `sqlite:${join(dir.path, `${transport}.db`)}`;
    const { caller, close } = await openCaller(transport, store);
    try {
      const ids = await seedThroughMcp(caller, BATCH);
      await probeMs(caller, ids);
      const batch: number[] = [];
      const single: number[] = [];
      for (let round = 0; round < rounds; round++) {
        const ones: number[] = [];
        for (let i = 0; i < 20; i++) {
          const id = ids[(round * 20 + i) % ids.length];
          if (id === undefined) throw new Error("batch-probe: no seeded jobs to probe one at a time");
          ones.push(await probeMs(caller, [id]));
        }
        single.push(median(ones));
        batch.push(await probeMs(caller, ids));
      }
      const ratio = spread(batch.map((b, i) => b / (single[i] ?? Number.NaN)));
      rows.push([
        transport,
        showSpread(spread(batch), 1),
        showSpread(spread(single), 3),
        showRatio(ratio),
        ((median(batch) * 1000) / BATCH).toFixed(1),
      ]);
      figures.push({
        transport,
        ids: BATCH,
        batch_probe_ms: spread(batch),
        single_probe_ms: spread(single),
        batch_vs_single: ratio,
        us_per_id: (median(batch) * 1000) / BATCH,
      });
    } finally {
      await close();
    }
  }
  const table = formatTable(
    `Batch probe (SQLite store): ${BATCH} completed job IDs in one call vs one ID, ms, ${rounds} rounds; median (min-max)`,
    ["transport", `probe ${BATCH} ms`, "probe 1 ms", `${BATCH}/1`, "us per ID"],
    rows,
  );
  return { name: "batch_probe", table, figures: { rows: figures }, checks: [] };
}

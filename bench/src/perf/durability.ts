/**
 * What `durability: "full"` (every answer waits for the WAL's fsync) costs against `"normal"` (a commit that
 * survives a process crash, not a power loss): durable starts per second on the SQLite store through the
 * programmatic API, with 1 submitter (the cost of a single start) and with 32, in interleaved rounds; the
 * jobs a window started are awaited after it, outside the timing.
 */
import { join } from "node:path";
import type { AsyncTools } from "@async-tools/core";
import { tempDir } from "@async-tools/test-helpers/temp";
import { createBenchRuntime, noopJob } from "../lib/bench-server.ts";
import { rate } from "../lib/rates.ts";
import { fresh, type RunOptions, type ScenarioResult } from "../lib/scenario.ts";
import { formatTable, showRatio, showSpread, spread } from "../lib/stats.ts";

/** The most `full` may cost against `normal`, per submitter count (issue 29). */
const TARGET: Record<number, number> = { 1: 2, 32: 1.5 };

/** A submit that starts a job and remembers it, and a drain that awaits every job remembered. */
function starter(tools: AsyncTools) {
  const started: string[] = [];
  return {
    submit: async () => {
      started.push((await tools.start(noopJob, { n: fresh(), delay_ms: 0 })).jobId);
    },
    drain: async () => {
      const ids = started.splice(0);
      for (let i = 0; i < ids.length; i += 1000)
        await tools.wait(ids.slice(i, i + 1000), { timeoutMs: 60_000 });
    },
  };
}

/** Measures starts per second with `durability: "full"` against `"normal"`, with 1 and 32 submitters. */
export async function durability(options: RunOptions): Promise<ScenarioResult> {
  const rounds = options.quick ? 3 : 7;
  const windowMs = options.quick ? 1_000 : 2_000;
  using dir = tempDir("bench-durability");
  const open = (mode: "normal" | "full") =>
    createBenchRuntime(`sqlite:${join(dir.path, `${mode}.db`)}`, undefined, { durability: mode });
  const full = await open("full");
  const normal = await open("normal");
  const rows: string[][] = [];
  const figures: Record<string, unknown>[] = [];
  const checks: ScenarioResult["checks"] = [];
  try {
    const ours = starter(full);
    const theirs = starter(normal);
    /** Starts per second over one window, then every job it started awaited (outside the window). */
    const window = async (s: ReturnType<typeof starter>, submitters: number, ms: number) => {
      const perSecond = await rate(submitters, ms, s.submit);
      await s.drain();
      return perSecond;
    };
    for (const submitters of [1, 32]) {
      await window(ours, submitters, 300);
      await window(theirs, submitters, 300);
      const oursRates: number[] = [];
      const theirRates: number[] = [];
      for (let round = 0; round < rounds; round++) {
        const first = round % 2 === 0;
        if (first) oursRates.push(await window(ours, submitters, windowMs));
        theirRates.push(await window(theirs, submitters, windowMs));
        if (!first) oursRates.push(await window(ours, submitters, windowMs));
      }
      const cost = spread(theirRates.map((r, i) => r / (oursRates[i] ?? Number.NaN)));
      const target = TARGET[submitters] ?? 1;
      rows.push([
        String(submitters),
        showSpread(spread(theirRates), 0),
        showSpread(spread(oursRates), 0),
        showRatio(cost),
        `<= ${target}x`,
      ]);
      figures.push({
        submitters,
        normal_starts_per_s: spread(theirRates),
        full_starts_per_s: spread(oursRates),
        full_cost_vs_normal: cost,
      });
      checks.push({
        name: `durability "full" costs <= ${target}x "normal" (${submitters} submitter${submitters > 1 ? "s" : ""})`,
        ok: cost.median <= target,
        detail: showRatio(cost),
      });
    }
  } finally {
    await full.close();
    await normal.close();
  }
  return {
    name: "durability",
    table: formatTable(
      `Durable starts/s, durability "full" (fsync of the WAL before each answer, shared) against "normal", SQLite store, programmatic API, ${rounds} interleaved rounds of ${windowMs / 1000} s; median (min-max)`,
      ["submitters", "normal starts/s", "full starts/s", "full cost (normal/full)", "target"],
      rows,
    ),
    figures: { rounds, window_ms: windowMs, rows: figures },
    checks,
  };
}

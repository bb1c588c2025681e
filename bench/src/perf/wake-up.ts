/**
 * Await wake-up: the time from a job's completion (a timestamp taken inside its function) to `await_*`
 * returning to the client, which was already blocked in await. The baseline is a plain call's round trip.
 */
import { join } from "node:path";
import { structured } from "@async-tools/test-helpers/mcp";
import { tempDir } from "@async-tools/test-helpers/temp";
import { preciseNow } from "../lib/bench-server.ts";
import { openCaller } from "../lib/in-process.ts";
import { type Caller, startJob } from "../lib/mcp.ts";
import { fresh, type RunOptions, type ScenarioResult } from "../lib/scenario.ts";
import { formatTable, median, quantile, showRatio, spread, verdict } from "../lib/stats.ts";

const DELAY_MS = 40;

interface Sample {
  wakeMs: number;
  /** Whether await was sent before the function finished, so it really blocked. */
  blocked: boolean;
}

async function sample(caller: Caller): Promise<Sample> {
  const { id } = await startJob(caller, "noop_job", { n: fresh(), delay_ms: DELAY_MS });
  const sentAt = preciseNow();
  const out = structured<{ jobs: { status: string; result?: { finished_at: number } }[] }>(
    await caller.call("await_noop_job", { job_ids: [id], timeout_seconds: 10 }),
  );
  const returnedAt = preciseNow();
  const finishedAt = out.jobs[0]?.result?.finished_at;
  if (finishedAt === undefined) throw new Error(`job ${id} did not complete within 10 s`);
  return { wakeMs: returnedAt - finishedAt, blocked: sentAt < finishedAt };
}

async function plainRoundTrip(caller: Caller, count: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const began = performance.now();
    await caller.call("noop", { n: fresh() });
    times.push(performance.now() - began);
  }
  return median(times);
}

/** Measures await wake-up in memory and over stdio, on the SQLite store. */
export async function wakeUp(options: RunOptions): Promise<ScenarioResult> {
  const rounds = options.quick ? 3 : 7;
  const perRound = options.quick ? 10 : 20;
  using dir = tempDir("bench-wake");
  const rows: string[][] = [];
  const figures: Record<string, unknown>[] = [];
  const checks: ScenarioResult["checks"] = [];
  for (const transport of ["in-memory", "stdio"] as const) {
    const store = `sqlite:${join(dir.path, `${transport}.db`)}`;
    const { caller, close } = await openCaller(transport, store);
    try {
      for (let i = 0; i < 3; i++) await sample(caller);
      const all: number[] = [];
      const ratios: number[] = [];
      const plains: number[] = [];
      let late = 0;
      for (let round = 0; round < rounds; round++) {
        const plain = await plainRoundTrip(caller, 50);
        const wakes: number[] = [];
        for (let i = 0; i < perRound; i++) {
          const s = await sample(caller);
          if (s.blocked) wakes.push(s.wakeMs);
          else late++;
        }
        all.push(...wakes);
        plains.push(plain);
        ratios.push(median(wakes) / plain);
      }
      const p50 = median(all);
      const p90 = quantile(all, 0.9);
      const ratio = spread(ratios);
      const met = p50 < 20;
      rows.push([
        transport,
        String(all.length),
        p50.toFixed(2),
        p90.toFixed(2),
        Math.max(...all).toFixed(2),
        median(plains).toFixed(3),
        showRatio(ratio),
        verdict(met),
      ]);
      figures.push({
        transport,
        samples: all.length,
        not_blocked_samples: late,
        wake_p50_ms: p50,
        wake_p90_ms: p90,
        wake_max_ms: Math.max(...all),
        plain_round_trip_ms: median(plains),
        wake_vs_plain: ratio,
      });
      checks.push({
        name: `await wake-up p50 < 20 ms (${transport})`,
        ok: met,
        detail: `${p50.toFixed(2)} ms`,
      });
    } finally {
      await close();
    }
  }
  const table = formatTable(
    `Await wake-up (SQLite store): function's last line to await returning, ms; job runs ${DELAY_MS} ms`,
    ["transport", "samples", "p50", "p90", "max", "plain call", "wake/plain", "p50<20ms"],
    rows,
  );
  return { name: "wake_up", table, figures: { rows: figures }, checks };
}

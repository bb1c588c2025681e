/**
 * What `durability: "full"` (every answer waits for the WAL's fsync) costs against `"normal"` (a commit that
 * survives a process crash, not a power loss): durable starts per second on the SQLite store through the
 * programmatic API, with 1 submitter (the cost of a single start) and with 32, in interleaved rounds; the
 * jobs a window started are awaited after it, outside the timing. Beside the rates: the time of each start
 * (p10 and median, whose ratio the load moves less than the rates'), and figures the load on the machine
 * hardly moves: WAL syncs per start and per job, syncs run on the event loop (a lone commit's, where that
 * measured faster than the thread pool), and bytes written per start.
 */
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { AsyncTools } from "@async-tools/core";
import { tempDir } from "@async-tools/test-helpers/temp";
import { createBenchRuntime, noopJob } from "../lib/bench-server.ts";
import { rate } from "../lib/rates.ts";
import { fresh, type RunOptions, type ScenarioResult } from "../lib/scenario.ts";
import { formatTable, median, quantile, showRatio, showSpread, spread } from "../lib/stats.ts";

/** The most `full` may cost against `normal`, per submitter count (issue 29). */
const TARGET: Record<number, number> = { 1: 2, 32: 1.5 };

/** The diagnostics channel the SQLite store publishes each WAL sync on (`store/sqlite/group-sync.ts`). */
const SYNC_CHANNEL = "async-tools:sqlite:sync";

/** What one store did over some windows: starts, WAL syncs (inside the windows, and with the drains after). */
interface Work {
  starts: number;
  syncsInWindows: number;
  syncs: number;
  syncsOnLoop: number;
  bytes: number;
}

/** Bytes this process wrote so far (`wchar` of `/proc/self/io`), or NaN where there is no such file. */
function bytesWritten(): number {
  try {
    return Number(/^wchar: (\d+)$/m.exec(readFileSync("/proc/self/io", "utf8"))?.[1] ?? Number.NaN);
  } catch {
    return Number.NaN;
  }
}

/**
 * A submit that starts a job and remembers it (and how long the start took, in `times`), and a drain that
 * awaits every job remembered.
 */
function starter(tools: AsyncTools) {
  const started: string[] = [];
  const times: number[] = [];
  return {
    times,
    submit: async () => {
      const began = performance.now();
      started.push((await tools.start(noopJob, { n: fresh(), delay_ms: 0 })).jobId);
      times.push(performance.now() - began);
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
  const fullWal = `${join(dir.path, "full.db")}-wal`;
  let syncs = 0;
  let syncsOnLoop = 0;
  const counted = (message: unknown) => {
    const event = message as { wal: string; onLoop: boolean };
    if (event.wal !== fullWal) return;
    syncs++;
    if (event.onLoop) syncsOnLoop++;
  };
  subscribe(SYNC_CHANNEL, counted);
  const rows: string[][] = [];
  const figures: Record<string, unknown>[] = [];
  const checks: ScenarioResult["checks"] = [];
  try {
    const ours = starter(full);
    const theirs = starter(normal);
    let work: Work = { starts: 0, syncsInWindows: 0, syncs: 0, syncsOnLoop: 0, bytes: 0 };
    /** Starts per second over one window, then every job it started awaited (outside the window). */
    const window = async (s: ReturnType<typeof starter>, submitters: number, ms: number) => {
      const before = { syncs, syncsOnLoop, bytes: bytesWritten() };
      let starts = 0;
      const perSecond = await rate(submitters, ms, async () => {
        await s.submit();
        starts++;
      });
      const inWindow = { syncs: syncs - before.syncs, bytes: bytesWritten() - before.bytes };
      await s.drain();
      if (s === ours) {
        work.starts += starts;
        work.syncsInWindows += inWindow.syncs;
        work.syncs += syncs - before.syncs;
        work.syncsOnLoop += syncsOnLoop - before.syncsOnLoop;
        work.bytes += inWindow.bytes;
      }
      return perSecond;
    };
    for (const submitters of [1, 32]) {
      await window(ours, submitters, 300);
      await window(theirs, submitters, 300);
      work = { starts: 0, syncsInWindows: 0, syncs: 0, syncsOnLoop: 0, bytes: 0 };
      ours.times.length = 0;
      theirs.times.length = 0;
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
      const times = (s: ReturnType<typeof starter>) => ({
        p10: quantile(s.times, 0.1),
        median: median(s.times),
      });
      const [normalMs, fullMs] = [times(theirs), times(ours)];
      const showTimes = (t: { p10: number; median: number }) =>
        `${t.p10.toFixed(2)} / ${t.median.toFixed(2)}`;
      rows.push([
        String(submitters),
        showSpread(spread(theirRates), 0),
        showSpread(spread(oursRates), 0),
        showRatio(cost),
        `<= ${target}x`,
        showTimes(normalMs),
        showTimes(fullMs),
        `${(fullMs.p10 / normalMs.p10).toFixed(2)}x / ${(fullMs.median / normalMs.median).toFixed(2)}x`,
        (work.syncsInWindows / work.starts).toFixed(2),
        (work.syncs / work.starts).toFixed(2),
        String(work.syncsOnLoop),
        (work.bytes / work.starts / 1024).toFixed(1),
      ]);
      figures.push({
        submitters,
        normal_starts_per_s: spread(theirRates),
        full_starts_per_s: spread(oursRates),
        full_cost_vs_normal: cost,
        normal_start_ms: normalMs,
        full_start_ms: fullMs,
        full_starts: work.starts,
        full_syncs_per_start: work.syncsInWindows / work.starts,
        full_syncs_per_job: work.syncs / work.starts,
        full_syncs_on_event_loop: work.syncsOnLoop,
        full_kb_written_per_start: work.bytes / work.starts / 1024,
      });
      checks.push({
        name: `durability "full" costs <= ${target}x "normal" (${submitters} submitter${submitters > 1 ? "s" : ""})`,
        ok: cost.median <= target,
        detail: showRatio(cost),
      });
    }
  } finally {
    unsubscribe(SYNC_CHANNEL, counted);
    await full.close();
    await normal.close();
  }
  return {
    name: "durability",
    table: formatTable(
      `Durable starts/s, durability "full" (fsync of the WAL before each answer, shared) against "normal", SQLite store, programmatic API, ${rounds} interleaved rounds of ${windowMs / 1000} s; median (min-max); the time of one start, p10 / median, and full's over normal's. For "full": WAL syncs per start inside the windows, per job with the drains after them, syncs run on the event loop (lone commits, where that measured faster than libuv's thread pool), and KB the process wrote per start`,
      [
        "submitters",
        "normal starts/s",
        "full starts/s",
        "full cost (normal/full)",
        "target",
        "normal start ms",
        "full start ms",
        "full/normal start",
        "full syncs/start",
        "syncs/job",
        "syncs on loop",
        "KB written/start",
      ],
      rows,
    ),
    figures: { rounds, window_ms: windowMs, rows: figures },
    checks,
  };
}

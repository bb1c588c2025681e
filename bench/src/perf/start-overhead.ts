/**
 * Start overhead: the round trip of `start_noop_job` against the plain `noop` tool on the same server and
 * transport, and the embedded SQLite store against the memory store, in blocks of calls per round.
 */
import { join } from "node:path";
import { tempDir } from "@async-tools/test-helpers/temp";
import { benchOptionsFromEnv, createBenchRuntime } from "../lib/bench-server.ts";
import { startStdioServer } from "../lib/child.ts";
import { connectInProcess } from "../lib/in-process.ts";
import { awaitJobs, type Caller, startJob } from "../lib/mcp.ts";
import { fresh, type RunOptions, type ScenarioResult } from "../lib/scenario.ts";
import {
  formatTable,
  median,
  quantile,
  type Spread,
  showRatio,
  showSpread,
  spread,
  verdict,
} from "../lib/stats.ts";

/** `sqlite-full` is the SQLite store with `durability: "full"` (an fsync per commit), in process only. */
type StoreKind = "sqlite" | "sqlite-full" | "memory";

/** The targets of a durable start against a plain call, per transport (median and p90 of the rounds). */
const PLAIN_TARGET = { "in-memory": 3, stdio: 2 } as const;

interface Target {
  store: StoreKind;
  caller: Caller;
}

async function latencies(count: number, fn: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const began = performance.now();
    await fn();
    out.push(performance.now() - began);
  }
  return out;
}

/** One block of plain calls then one block of starts; waits for the started jobs before returning. */
async function block(caller: Caller, count: number): Promise<{ noop: number; start: number }> {
  const noop = await latencies(count, () => caller.call("noop", { n: fresh() }));
  const ids: string[] = [];
  const start = await latencies(count, async () =>
    ids.push((await startJob(caller, "noop_job", { n: fresh() })).id),
  );
  await awaitJobs(caller, "noop_job", ids, 60_000);
  return { noop: median(noop), start: median(start) };
}

async function measure(targets: Target[], rounds: number, count: number) {
  for (const target of targets) await block(target.caller, Math.min(100, count));
  const perStore = new Map<StoreKind, { noop: number[]; start: number[] }>();
  for (const target of targets) perStore.set(target.store, { noop: [], start: [] });
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? targets : [...targets].reverse();
    for (const target of order) {
      const { noop, start } = await block(target.caller, count);
      perStore.get(target.store)?.noop.push(noop);
      perStore.get(target.store)?.start.push(start);
    }
  }
  return perStore;
}

/** Measures start overhead in memory and over stdio, on both stores. */
export async function startOverhead(options: RunOptions): Promise<ScenarioResult> {
  const rounds = options.quick ? 3 : 9;
  const count = options.quick ? 100 : 300;
  using dir = tempDir("bench-start");
  const rows: string[][] = [];
  const figures: Record<string, unknown>[] = [];
  const checks: ScenarioResult["checks"] = [];

  for (const transport of ["in-memory", "stdio"] as const) {
    const closers: (() => Promise<void>)[] = [];
    const targets: Target[] = [];
    const stores: StoreKind[] =
      transport === "in-memory" ? ["sqlite", "sqlite-full", "memory"] : ["sqlite", "memory"];
    for (const store of stores) {
      const spec = store === "memory" ? "memory" : `sqlite:${join(dir.path, `${transport}-${store}.db`)}`;
      if (transport === "in-memory") {
        const tools = await createBenchRuntime(spec, undefined, {
          ...benchOptionsFromEnv(),
          durability: store === "sqlite-full" ? "full" : "normal",
        });
        const caller = await connectInProcess(tools);
        closers.push(async () => {
          await caller.close();
          await tools.close();
        });
        targets.push({ store, caller });
      } else {
        const server = await startStdioServer({ store: spec });
        closers.push(() => server.close());
        targets.push({ store, caller: server });
      }
    }
    try {
      const perStore = await measure(targets, rounds, count);
      const memory = perStore.get("memory");
      if (memory === undefined) throw new Error("start overhead: the memory store was not measured");
      const target = PLAIN_TARGET[transport];
      for (const [store, data] of perStore) {
        const ratios = data.start.map((s, i) => s / (data.noop[i] ?? Number.NaN));
        const vsPlain = spread(ratios);
        const p90 = quantile(ratios, 0.9);
        const vsMemory: Spread | undefined =
          store !== "memory"
            ? spread(data.start.map((s, i) => s / (memory.start[i] ?? Number.NaN)))
            : undefined;
        const plainMet = vsPlain.median <= target && p90 <= target;
        const memoryMet = store !== "sqlite" || vsMemory === undefined ? undefined : vsMemory.median <= 1.5;
        rows.push([
          transport,
          store,
          showSpread(spread(data.noop), 3),
          showSpread(spread(data.start), 3),
          showRatio(vsPlain),
          `${p90.toFixed(2)}x`,
          store === "sqlite" ? verdict(plainMet) : "-",
          vsMemory ? showRatio(vsMemory) : "-",
          memoryMet === undefined ? "-" : verdict(memoryMet),
        ]);
        figures.push({
          transport,
          store,
          calls_per_block: count,
          noop_p50_ms: spread(data.noop),
          start_p50_ms: spread(data.start),
          start_vs_plain: vsPlain,
          start_vs_plain_p90: p90,
          ...(vsMemory ? { start_vs_memory_store: vsMemory } : {}),
        });
        if (store === "sqlite") {
          checks.push({
            name: `start within ${target}x of a plain call, median and p90 (${transport})`,
            ok: plainMet,
            detail: `${showRatio(vsPlain)}, p90 ${p90.toFixed(2)}x`,
          });
          checks.push({
            name: `sqlite start within 1.5x of memory start (${transport})`,
            ok: memoryMet === true,
            detail: vsMemory ? showRatio(vsMemory) : "-",
          });
        }
      }
    } finally {
      for (const close of closers) await close();
    }
  }
  const table = formatTable(
    `Start overhead: per-round median round trip (ms), ${rounds} rounds x ${count} calls; ratios median (min-max), p90 of the rounds; target: in-memory <= ${PLAIN_TARGET["in-memory"]}x, stdio <= ${PLAIN_TARGET.stdio}x; sqlite-full = durability "full"`,
    ["transport", "store", "noop ms", "start ms", "start/noop", "p90", "target", "vs memory", "<=1.5x"],
    rows,
  );
  return { name: "start_overhead", table, figures: { rows: figures }, checks };
}

/**
 * `pnpm bench`: the performance figures of async tools, each as a ratio against a baseline measured in the
 * same run (a plain tool call, the memory store, a one-ID probe, the smallest store, a bare restart).
 * `--quick` runs smaller sizes; `--only start_overhead,wake_up` runs a subset. Writes `bench/results.json`.
 * Every scenario records the machine's load; a target measured while the load exceeded the number of cores is
 * "not measured: machine busy", never "met". `--strict` exits non-zero when any target is missed or not measured.
 */
import { writeFileSync } from "node:fs";
import { availableParallelism, cpus, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type LoadRecord, watchLoad } from "../lib/load.ts";
import type { RunOptions, ScenarioResult } from "../lib/scenario.ts";
import { formatTable, verdict } from "../lib/stats.ts";
import { batchProbe } from "./batch-probe.ts";
import { bullmq } from "./bullmq.ts";
import { coldStart } from "./cold-start.ts";
import { dbos } from "./dbos.ts";
import { durability } from "./durability.ts";
import { inFlight } from "./in-flight.ts";
import { pgTimeline } from "./pg-timeline.ts";
import { recovery } from "./recovery.ts";
import { scale } from "./scale.ts";
import { sharing } from "./sharing.ts";
import { startOverhead } from "./start-overhead.ts";
import { throughput } from "./throughput.ts";
import { wakeUp } from "./wake-up.ts";

const SCENARIOS: Record<string, (options: RunOptions) => Promise<ScenarioResult>> = {
  start_overhead: startOverhead,
  throughput,
  wake_up: wakeUp,
  batch_probe: batchProbe,
  scale,
  recovery,
  sharing,
  in_flight: inFlight,
  bullmq,
  dbos,
  pg_timeline: pgTimeline,
  cold_start: coldStart,
  durability,
};

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    strict: { type: "boolean", default: false },
    out: { type: "string", default: join(import.meta.dirname, "..", "..", "results.json") },
  },
});

async function main(): Promise<void> {
  process.env.ASYNC_TOOLS_LOG ??= "warn";
  delete process.env.RESONATE_URL;
  const options: RunOptions = { quick: values.quick };
  const names = values.only ? values.only.split(",").map((name) => name.trim()) : Object.keys(SCENARIOS);
  const unknown = names.filter((name) => !(name in SCENARIOS));
  if (unknown.length > 0)
    throw new Error(`unknown scenario ${unknown.join(", ")}; known: ${Object.keys(SCENARIOS)}`);

  const began = Date.now();
  const results: { result: ScenarioResult; load: LoadRecord }[] = [];
  for (const name of names) {
    const scenario = SCENARIOS[name];
    if (scenario === undefined) throw new Error(`unknown scenario ${name}`);
    process.stderr.write(`bench: ${name}...\n`);
    const watch = watchLoad();
    const result = await scenario(options);
    const load = watch.stop();
    results.push({ result, load });
    console.log(result.table);
    console.log(
      `load average: ${load.start} at start, ${load.end} at end, ${load.max} at most (${load.cores} cores)`,
    );
  }
  const checks = results.flatMap(({ result, load }) =>
    result.checks.map((c) => ({ scenario: result.name, ...c, busy: load.busy, load: load.max })),
  );
  const judged = (c: (typeof checks)[number]) =>
    c.busy ? `not measured: machine busy (load ${c.load})` : verdict(c.ok);
  console.log(
    formatTable(
      "Targets",
      ["scenario", "target", "measured", "verdict"],
      checks.map((c) => [c.scenario, c.name, c.detail, judged(c)]),
    ),
  );
  const seconds = Math.round((Date.now() - began) / 1000);
  const missed = checks.filter((c) => !c.busy && !c.ok).length;
  const busy = checks.filter((c) => c.busy).length;
  console.log(
    `\n${missed} of ${checks.length} targets missed, ${busy} not measured (machine busy); ${seconds} s in all.`,
  );
  writeFileSync(
    values.out,
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        quick: options.quick,
        machine: {
          cpus: availableParallelism(),
          cpu_model: cpus()[0]?.model,
          memory_gb: Math.round(totalmem() / 2 ** 30),
          node: process.version,
          platform: `${process.platform}-${process.arch}`,
        },
        seconds,
        scenarios: Object.fromEntries(
          results.map(({ result, load }) => [
            result.name,
            {
              ...result.figures,
              load,
              checks: result.checks.map((c) => ({
                ...c,
                verdict: load.busy ? "not measured: machine busy" : c.ok ? "met" : "missed",
              })),
            },
          ]),
        ),
      },
      null,
      2,
    )}\n`,
  );
  process.stderr.write(`bench: results written to ${values.out}\n`);
  if (values.strict && (missed > 0 || busy > 0)) {
    process.stderr.write(`bench: --strict: ${missed} missed, ${busy} not measured\n`);
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

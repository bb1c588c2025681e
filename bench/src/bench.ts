/**
 * `pnpm bench`: the performance figures of async tools, each as a ratio against a baseline measured in the
 * same run (a plain tool call, the memory store, a one-ID probe, the smallest store, a bare restart).
 * `--quick` runs smaller sizes; `--only start_overhead,wake_up` runs a subset. Writes `bench/results.json`.
 */
import { writeFileSync } from "node:fs";
import { availableParallelism, cpus, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { batchProbe } from "./bench/batch-probe.ts";
import { bullmq } from "./bench/bullmq.ts";
import { coldStart } from "./bench/cold-start.ts";
import { inFlight } from "./bench/in-flight.ts";
import { recovery } from "./bench/recovery.ts";
import { scale } from "./bench/scale.ts";
import { sharing } from "./bench/sharing.ts";
import { startOverhead } from "./bench/start-overhead.ts";
import { throughput } from "./bench/throughput.ts";
import { wakeUp } from "./bench/wake-up.ts";
import type { RunOptions, ScenarioResult } from "./lib/scenario.ts";
import { formatTable, verdict } from "./lib/stats.ts";

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
  cold_start: coldStart,
};

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    out: { type: "string", default: join(import.meta.dirname, "..", "results.json") },
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
  const results: ScenarioResult[] = [];
  for (const name of names) {
    const scenario = SCENARIOS[name];
    if (scenario === undefined) throw new Error(`unknown scenario ${name}`);
    process.stderr.write(`bench: ${name}...\n`);
    const result = await scenario(options);
    results.push(result);
    console.log(result.table);
  }
  const checks = results.flatMap((r) => r.checks.map((c) => ({ scenario: r.name, ...c })));
  console.log(
    formatTable(
      "Targets",
      ["scenario", "target", "measured", "verdict"],
      checks.map((c) => [c.scenario, c.name, c.detail, verdict(c.ok)]),
    ),
  );
  const seconds = Math.round((Date.now() - began) / 1000);
  console.log(
    `\n${checks.filter((c) => !c.ok).length} of ${checks.length} targets missed; ${seconds} s in all.`,
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
        scenarios: Object.fromEntries(results.map((r) => [r.name, { ...r.figures, checks: r.checks }])),
      },
      null,
      2,
    )}\n`,
  );
  process.stderr.write(`bench: results written to ${values.out}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

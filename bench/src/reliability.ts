/**
 * `pnpm test:reliability`: chaos with SIGKILLs, concurrent starts, fuzzed input, store faults, long work
 * (leases, back-pressure, Retry-After, recovery at boot, stdin close, versions) and pauses (SIGSTOP beyond
 * the lease, alone and on a shared store). Prints a
 * table and exits non-zero on any failure. `--short` is the CI size (seeded, under 3 minutes); `SEED=` replays
 * a run; `--only chaos,concurrency` runs a subset.
 */
import { parseArgs } from "node:util";
import { seedFromEnv } from "./lib/prng.ts";
import type { RunOptions, ScenarioResult } from "./lib/scenario.ts";
import { formatTable } from "./lib/stats.ts";
import { badInput } from "./reliability/bad-input.ts";
import { chaos, chaosMulti, chaosMultiPostgres } from "./reliability/chaos.ts";
import { concurrency } from "./reliability/concurrency.ts";
import { longWork } from "./reliability/long-work.ts";
import { pause } from "./reliability/pause.ts";
import { storeFaults } from "./reliability/store-faults.ts";

const SUITES: Record<string, (options: RunOptions) => Promise<ScenarioResult>> = {
  chaos,
  chaos_multi: chaosMulti,
  chaos_multi_pg: chaosMultiPostgres,
  concurrency,
  bad_input: badInput,
  store_faults: storeFaults,
  long_work: longWork,
  pause,
};

const { values } = parseArgs({
  options: {
    short: { type: "boolean", default: false },
    only: { type: "string" },
  },
});

async function main(): Promise<number> {
  process.env.ASYNC_TOOLS_LOG ??= "warn";
  delete process.env.RESONATE_URL;
  const seed = seedFromEnv();
  console.log(`SEED=${seed} (set SEED=${seed} to replay)${values.short ? " --short" : ""}`);
  const options: RunOptions = { quick: values.short, seed };
  const names = values.only ? values.only.split(",").map((name) => name.trim()) : Object.keys(SUITES);
  const unknown = names.filter((name) => !(name in SUITES));
  if (unknown.length > 0)
    throw new Error(`unknown suite ${unknown.join(", ")}; known: ${Object.keys(SUITES)}`);

  const began = Date.now();
  const rows: string[][] = [];
  for (const name of names) {
    process.stderr.write(`reliability: ${name}...\n`);
    try {
      const suite = SUITES[name];
      if (suite === undefined) throw new Error(`unknown suite ${name}`);
      const outcome = await suite(options);
      console.log(`${name}: ${JSON.stringify(outcome.figures)}`);
      for (const check of outcome.checks) {
        const result = check.skipped ? "skipped" : check.ok ? "pass" : check.warnOnly ? "WARN" : "FAIL";
        rows.push([name, check.name, result, check.detail]);
      }
    } catch (error) {
      rows.push([name, "ran to the end", "FAIL", error instanceof Error ? error.message : String(error)]);
    }
  }
  console.log(formatTable("Reliability", ["suite", "check", "result", "detail"], rows));
  const failed = rows.filter((row) => row[2] === "FAIL").length;
  const seconds = Math.round((Date.now() - began) / 1000);
  console.log(
    `\n${failed === 0 ? "PASS" : "FAIL"}: ${failed} of ${rows.length} checks failed in ${seconds} s (SEED=${seed}).`,
  );
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);

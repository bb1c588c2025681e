/**
 * The reliability suites as tests: chaos with SIGKILLs, concurrent starts, fuzzed input, store faults, long
 * work (leases, back-pressure, Retry-After, recovery at boot, stdin close, versions) and pauses (SIGSTOP
 * beyond the lease, alone and on a shared store). Each suite is one test that runs it and asserts every one
 * of its checks, so a failure names each check that failed with its figure.
 *
 * `pnpm test` runs the CI size (seeded, a few minutes); `pnpm test:reliability` the full size
 * (`ASYNC_TOOLS_RELIABILITY=full`). `SEED=` replays a run; `-t chaos` runs a subset.
 */

import { budget } from "@async-tools/test-helpers/budgets";
import { seedFromEnv } from "@async-tools/test-helpers/random";
import { describe, expect, it } from "vitest";
import type { RunOptions, ScenarioResult } from "../lib/scenario.ts";
import { formatTable } from "../lib/stats.ts";
import { badInput } from "./bad-input.ts";
import { chaos, chaosMulti, chaosMultiPostgres } from "./chaos.ts";
import { concurrency } from "./concurrency.ts";
import { longWork } from "./long-work.ts";
import { pause } from "./pause.ts";
import { storeFaults } from "./store-faults.ts";

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

const full = process.env.ASYNC_TOOLS_RELIABILITY === "full";
const seed = seedFromEnv();
const options: RunOptions = { quick: !full, seed };
/** A hang guard per suite: the CI size takes minutes, the full size up to an hour on a loaded machine. */
const SUITE_BUDGET_MS = budget(full ? 2 * 3_600_000 : 20 * 60_000);

describe(`reliability, ${full ? "full size" : "CI size"} (SEED=${seed} replays it)`, () => {
  for (const [name, suite] of Object.entries(SUITES)) {
    it(
      name,
      async () => {
        const outcome = await suite(options);
        const rows = outcome.checks.map((check) => [
          check.name,
          check.skipped ? "skipped" : check.ok ? "pass" : check.warnOnly ? "WARN" : "FAIL",
          check.detail,
        ]);
        process.stderr.write(
          `${name}: ${JSON.stringify(outcome.figures)}\n${formatTable(name, ["check", "result", "detail"], rows)}\n`,
        );
        expect(outcome.checks.length, "the suite ran no check").toBeGreaterThan(0);
        for (const check of outcome.checks) {
          // Skipped: the machine cannot run it (no permission to mount, say). WARN: a known library defect.
          if (check.skipped || check.warnOnly) continue;
          expect.soft(check.ok, `${check.name}: ${check.detail} (SEED=${seed})`).toBe(true);
        }
      },
      SUITE_BUDGET_MS,
    );
  }
});

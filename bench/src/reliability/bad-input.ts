/**
 * Bad input, fuzzed with fast-check (seeded): tool arguments through a real client, raw lines on the stdio
 * server's stdin, and HTTP bodies. Never a crash, always a clear error.
 */
import type { RunOptions, ScenarioResult } from "../lib/scenario.ts";
import { formatTable } from "../lib/stats.ts";
import { fuzzHttp } from "./http-fuzz.ts";
import { fuzzStdio } from "./stdio-fuzz.ts";
import { fuzzToolArguments } from "./tool-args-fuzz.ts";

/** Runs the three fuzzers; `quick` is the CI size. */
export async function badInput(options: RunOptions): Promise<ScenarioResult> {
  const seed = options.seed ?? 1;
  const args = await fuzzToolArguments(options.quick ? 300 : 2_000, seed);
  const stdio = await fuzzStdio(options.quick ? 150 : 800, seed);
  const http = await fuzzHttp(options.quick ? 300 : 2_000, seed);
  const checks = [...args.checks, ...stdio.checks, ...http.checks];
  return {
    name: "bad_input",
    table: formatTable(
      `Bad input: SEED=${seed}`,
      ["check", "result", "detail"],
      checks.map((c) => [c.name, c.ok ? "pass" : "FAIL", c.detail]),
    ),
    figures: { tool_arguments: args.figures, stdio_lines: stdio.figures, http_bodies: http.figures },
    checks,
  };
}

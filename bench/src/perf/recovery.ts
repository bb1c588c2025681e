/**
 * Recovery: the stdio server is SIGKILLed with three-step jobs in flight and started again on the same
 * store; measured is the time from the restart to the first resumed step (a new line in the side-effect
 * file), against the time the same restart takes to answer the MCP handshake.
 */
import { join } from "node:path";
import { tempDir } from "@async-tools/test-helpers/temp";
import { startStdioServer } from "../lib/child.ts";
import { awaitJobs, startJob } from "../lib/mcp.ts";
import { fresh, type RunOptions, type ScenarioResult } from "../lib/scenario.ts";
import { sizeOf } from "../lib/side-effects.ts";
import { formatTable, showRatio, showSpread, spread } from "../lib/stats.ts";
import { pollUntil } from "../lib/time.ts";

const JOBS = 20;
const STEP_MS = 400;

/** Measures restart-to-first-resumed-step after a SIGKILL, over several rounds. */
export async function recovery(options: RunOptions): Promise<ScenarioResult> {
  const rounds = options.quick ? 3 : 7;
  using dir = tempDir("bench-recovery");
  const resumed: number[] = [];
  const ready: number[] = [];
  const ratios: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const store = `sqlite:${join(dir.path, `round-${round}.db`)}`;
    const sideEffects = join(dir.path, `round-${round}.log`);
    const first = await startStdioServer({ store, sideEffects });
    const ids: string[] = [];
    try {
      for (let i = 0; i < JOBS; i++)
        ids.push((await startJob(first, "three_step", { n: fresh(), step_ms: STEP_MS })).id);
      const inFlight = await pollUntil(() => (sizeOf(sideEffects) > 0 ? true : undefined), 10_000);
      if (!inFlight) throw new Error("no step started within 10 s");
    } finally {
      await first.kill();
    }
    const before = sizeOf(sideEffects);
    const began = performance.now();
    let resumedAt: number | undefined;
    const watch = pollUntil(
      () => {
        if (sizeOf(sideEffects) > before) resumedAt = performance.now();
        return resumedAt;
      },
      30_000,
      1,
    );
    const second = await startStdioServer({ store, sideEffects });
    const readyMs = performance.now() - began;
    try {
      await watch;
      if (resumedAt === undefined) throw new Error("no job resumed within 30 s of the restart");
      const jobs = await awaitJobs(second, "three_step", ids, 60_000);
      const unfinished = jobs.filter((job) => job.status !== "completed").length;
      if (unfinished > 0) throw new Error(`${unfinished} jobs did not complete after the restart`);
    } finally {
      await second.close();
    }
    resumed.push(resumedAt - began);
    ready.push(readyMs);
    ratios.push((resumedAt - began) / readyMs);
  }
  const ratio = spread(ratios);
  const table = formatTable(
    `Recovery (stdio, SQLite store): ${JOBS} jobs in flight, SIGKILL, restart; ms from spawn, ${rounds} rounds; median (min-max)`,
    ["first resumed step ms", "MCP handshake done ms", "resumed/handshake"],
    [[showSpread(spread(resumed), 0), showSpread(spread(ready), 0), showRatio(ratio)]],
  );
  return {
    name: "recovery",
    table,
    figures: {
      jobs_in_flight: JOBS,
      first_resumed_step_ms: spread(resumed),
      handshake_ms: spread(ready),
      resumed_vs_handshake: ratio,
    },
    checks: [],
  };
}

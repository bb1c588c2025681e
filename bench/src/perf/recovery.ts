/**
 * Recovery: the stdio server (bundled, as a user's server ships) is SIGKILLed with three-step jobs in flight
 * and started again on the same store; measured is the time from the restart to the first resumed step (a new
 * line in the side-effect file), against the time a plain MCP SDK server takes from its spawn to the answer to
 * its handshake, in the same rounds (before the restart in even rounds, after it in odd ones).
 */
import { join } from "node:path";
import { tempDir } from "@async-tools/test-helpers/temp";
import { bundleBenchServer } from "../lib/bundle.ts";
import { startStdioServer } from "../lib/child.ts";
import { awaitJobs, startJob } from "../lib/mcp.ts";
import { fresh, type RunOptions, type ScenarioResult } from "../lib/scenario.ts";
import { sizeOf } from "../lib/side-effects.ts";
import { formatTable, showRatio, showSpread, spread, verdict } from "../lib/stats.ts";
import { pollUntil } from "../lib/time.ts";

const JOBS = 20;
const STEP_MS = 400;
const PLAIN = join(import.meta.dirname, "..", "fixtures", "plain-server.mjs");
/** The first resumed step within this many times a plain server's first answer (issue 29). */
const TARGET = 1.2;

/** Spawn to handshake answer of the plain SDK server, in ms. */
async function plainHandshake(): Promise<number> {
  const began = performance.now();
  const plain = await startStdioServer({ store: "memory", script: PLAIN });
  const ms = performance.now() - began;
  await plain.close();
  return ms;
}

/** Measures restart-to-first-resumed-step after a SIGKILL, over several rounds. */
export async function recovery(options: RunOptions): Promise<ScenarioResult> {
  const rounds = options.quick ? 3 : 7;
  using dir = tempDir("bench-recovery");
  const script = await bundleBenchServer(dir.path);
  await plainHandshake();
  const resumed: number[] = [];
  const ready: number[] = [];
  const plain: number[] = [];
  const ratios: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const store = `sqlite:${join(dir.path, `round-${round}.db`)}`;
    const sideEffects = join(dir.path, `round-${round}.log`);
    if (round % 2 === 0) plain.push(await plainHandshake());
    const first = await startStdioServer({ store, sideEffects, script });
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
    const second = await startStdioServer({ store, sideEffects, script });
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
    if (round % 2 === 1) plain.push(await plainHandshake());
    resumed.push(resumedAt - began);
    ready.push(readyMs);
    ratios.push((resumedAt - began) / (plain[round] ?? Number.NaN));
  }
  const ratio = spread(ratios);
  const table = formatTable(
    `Recovery (stdio, SQLite store, bundled server): ${JOBS} jobs in flight, SIGKILL, restart; ms from spawn, against a plain SDK server's handshake, ${rounds} interleaved rounds; median (min-max)`,
    [
      "first resumed step ms",
      "its MCP handshake done ms",
      "plain server handshake ms",
      "resumed/plain",
      `target <= ${TARGET}x`,
    ],
    [
      [
        showSpread(spread(resumed), 0),
        showSpread(spread(ready), 0),
        showSpread(spread(plain), 0),
        showRatio(ratio),
        verdict(ratio.median <= TARGET),
      ],
    ],
  );
  return {
    name: "recovery",
    table,
    figures: {
      jobs_in_flight: JOBS,
      first_resumed_step_ms: spread(resumed),
      handshake_ms: spread(ready),
      plain_handshake_ms: spread(plain),
      resumed_vs_plain: ratio,
    },
    checks: [
      {
        name: `first resumed step after SIGKILL <= ${TARGET}x a plain SDK server's first answer`,
        ok: ratio.median <= TARGET,
        detail: showRatio(ratio),
      },
    ],
  };
}

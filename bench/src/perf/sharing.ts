/**
 * Sharing: two stdio servers on one store file, the owner and a joiner that reaches it over loopback HTTP.
 * Measured in the same run: the start round trip, a three-step job from start to result, and throughput on
 * each; then the takeover: the time from the owner's SIGKILL until the joiner owns the store (its own log)
 * and until a new job started on it has completed.
 */
import { join } from "node:path";
import { tempDir } from "@async-tools/test-helpers/temp";
import { type StdioServer, startStdioServer } from "../lib/child.ts";
import { awaitJobs, startJob } from "../lib/mcp.ts";
import { fresh, type RunOptions, type ScenarioResult } from "../lib/scenario.ts";
import { formatTable, median, showRatio, showSpread, spread } from "../lib/stats.ts";
import { pollUntil } from "../lib/time.ts";

async function startLatencies(server: StdioServer, count: number): Promise<number> {
  const out: number[] = [];
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const began = performance.now();
    ids.push((await startJob(server, "noop_job", { n: fresh() })).id);
    out.push(performance.now() - began);
  }
  await awaitJobs(server, "noop_job", ids, 60_000);
  return median(out);
}

/** Median time from `start_three_step` to its result through `await_three_step`. */
async function jobLatencies(server: StdioServer, count: number): Promise<number> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const began = performance.now();
    const { id } = await startJob(server, "three_step", { n: fresh(), step_ms: 0 });
    await awaitJobs(server, "three_step", [id], 30_000);
    out.push(performance.now() - began);
  }
  return median(out);
}

/** Jobs per second: `count` no-op jobs started at once and awaited. */
async function throughputOf(server: StdioServer, count: number): Promise<number> {
  const began = performance.now();
  const ids = await Promise.all(
    Array.from({ length: count }, async () => (await startJob(server, "noop_job", { n: fresh() })).id),
  );
  await awaitJobs(server, "noop_job", ids, 120_000);
  return count / ((performance.now() - began) / 1000);
}

/** Measures a joiner against the owner of the same store, and the takeover after the owner's SIGKILL. */
export async function sharing(options: RunOptions): Promise<ScenarioResult> {
  const rounds = options.quick ? 3 : 7;
  const count = options.quick ? 50 : 200;
  const burst = options.quick ? 100 : 400;
  using dir = tempDir("bench-sharing");
  const store = `sqlite:${join(dir.path, "shared.db")}`;
  const owner = await startStdioServer({ store });
  const joiner = await startStdioServer({ store });
  const starts = { owner: [] as number[], joiner: [] as number[] };
  const jobs = { owner: [] as number[], joiner: [] as number[] };
  const rates = { owner: [] as number[], joiner: [] as number[] };
  try {
    await startLatencies(owner, 20);
    await startLatencies(joiner, 20);
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? (["owner", "joiner"] as const) : (["joiner", "owner"] as const);
      for (const who of order) {
        const server = who === "owner" ? owner : joiner;
        starts[who].push(await startLatencies(server, count));
        jobs[who].push(await jobLatencies(server, Math.ceil(count / 5)));
        rates[who].push(await throughputOf(server, burst));
      }
    }
  } finally {
    await joiner.close();
    await owner.close();
  }

  const takeover: number[] = [];
  const firstJob: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const roundStore = `sqlite:${join(dir.path, `takeover-${round}.db`)}`;
    const first = await startStdioServer({ store: roundStore, logLevel: "info" });
    const second = await startStdioServer({ store: roundStore, logLevel: "info" });
    try {
      await startLatencies(second, 5);
      const began = performance.now();
      await first.kill();
      const killedAt = performance.now();
      const { id } = await startJob(second, "noop_job", { n: fresh() });
      await awaitJobs(second, "noop_job", [id], 30_000);
      firstJob.push(performance.now() - began);
      const logged = await pollUntil(
        () => /store taken over from a dead owner.* ms=(\d+)/.exec(second.stderr())?.[1],
        10_000,
      );
      // The joiner's own figure runs from the dropped stream to the switch; the kill itself is added.
      takeover.push(Number(logged ?? Number.NaN) + (killedAt - began));
    } finally {
      await second.close();
      await first.kill();
    }
  }

  const startRatio = spread(starts.joiner.map((s, i) => s / (starts.owner[i] ?? Number.NaN)));
  const jobRatio = spread(jobs.joiner.map((s, i) => s / (jobs.owner[i] ?? Number.NaN)));
  const rateRatio = spread(rates.joiner.map((s, i) => s / (rates.owner[i] ?? Number.NaN)));
  const takeoverSpread = spread(takeover);
  const rows = [
    [
      "start round trip (ms)",
      showSpread(spread(starts.owner), 2),
      showSpread(spread(starts.joiner), 2),
      showRatio(startRatio),
    ],
    [
      "three-step job, start to result (ms)",
      showSpread(spread(jobs.owner), 1),
      showSpread(spread(jobs.joiner), 1),
      showRatio(jobRatio),
    ],
    [
      "throughput (jobs/s)",
      showSpread(spread(rates.owner), 0),
      showSpread(spread(rates.joiner), 0),
      showRatio(rateRatio),
    ],
  ];
  const table = [
    formatTable(
      `Sharing a store: owner vs joiner over stdio, ${rounds} rounds (median (min-max) of per-round medians)`,
      ["measure", "owner", "joiner", "joiner/owner"],
      rows,
    ),
    formatTable(
      `Takeover after the owner's SIGKILL, ${rounds} rounds`,
      ["measure", "ms"],
      [
        ["SIGKILL to joiner owning the store", showSpread(takeoverSpread, 0)],
        ["SIGKILL to a new job completed on the joiner", showSpread(spread(firstJob), 0)],
      ],
    ),
  ].join("\n");
  return {
    name: "sharing",
    table,
    figures: {
      start_ms: { owner: spread(starts.owner), joiner: spread(starts.joiner), ratio: startRatio },
      three_step_ms: { owner: spread(jobs.owner), joiner: spread(jobs.joiner), ratio: jobRatio },
      jobs_per_s: { owner: spread(rates.owner), joiner: spread(rates.joiner), ratio: rateRatio },
      takeover_ms: takeoverSpread,
      kill_to_first_job_ms: spread(firstJob),
    },
    checks: [
      {
        name: "joiner start within 2x of the owner's",
        ok: startRatio.median <= 2,
        detail: showRatio(startRatio),
      },
      {
        name: "takeover under 1 s after the owner's SIGKILL",
        ok: takeoverSpread.max < 1000,
        detail: `${showSpread(takeoverSpread, 0)} ms`,
      },
    ],
  };
}

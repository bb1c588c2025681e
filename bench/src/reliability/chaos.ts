/**
 * Chaos: hundreds of three-step jobs while the stdio server is SIGKILLed at random moments and started
 * again on the same store. Every job must complete with the right result, under the ID it was first given,
 * and each step's side effect (counted in a file outside the store) may repeat only across a kill.
 */
import { join } from "node:path";
import { postgresUnavailable, startPostgres } from "@async-tools/test-helpers/postgres";
import { seeded } from "@async-tools/test-helpers/random";
import { tempDir } from "@async-tools/test-helpers/temp";
import { type StdioServer, startStdioServer } from "../lib/child.ts";
import { awaitJobs, startJob } from "../lib/mcp.ts";
import { storeInit } from "../lib/postgres.ts";
import type { Check, RunOptions, ScenarioResult } from "../lib/scenario.ts";
import { readSideEffects, type SideEffect, sizeOf } from "../lib/side-effects.ts";
import { formatTable } from "../lib/stats.ts";
import { sleep } from "../lib/time.ts";

interface Plan {
  n: number;
  stepMs: number;
}

/** What the side-effect file says about one job. */
interface Trace {
  counts: [number, number, number];
  /** Lines of this job in one server incarnation, by step. */
  perIncarnation: Map<string, number>;
  ordered: boolean;
}

function trace(lines: SideEffect[], boundaries: number[]): Map<string, Trace> {
  const traces = new Map<string, Trace>();
  const last = new Map<string, number>();
  for (const line of lines) {
    let t = traces.get(line.jobId);
    if (t === undefined) {
      t = { counts: [0, 0, 0], perIncarnation: new Map(), ordered: true };
      traces.set(line.jobId, t);
    }
    if (Number.isInteger(line.step)) t.counts[line.step - 1] = (t.counts[line.step - 1] ?? 0) + 1;
    const incarnation = boundaries.filter((b) => line.offset >= b).length;
    const key = `${incarnation}:${line.step}`;
    t.perIncarnation.set(key, (t.perIncarnation.get(key) ?? 0) + 1);
    if (line.step < (last.get(line.jobId) ?? 0)) t.ordered = false;
    last.set(line.jobId, line.step);
  }
  return traces;
}

/** The starts of planned jobs under kills: the ID each input was acknowledged with, ID changes, cut calls. */
class Starts {
  readonly acked = new Map<number, string>();
  readonly conflicts: string[] = [];
  failedCalls = 0;

  /** Starts `plan` on `target`; a call cut by a kill only counts as failed. */
  async start(target: StdioServer, plan: Plan): Promise<void> {
    try {
      const { id } = await startJob(target, "three_step", { n: plan.n, step_ms: plan.stepMs });
      const known = this.acked.get(plan.n);
      if (known !== undefined && known !== id) this.conflicts.push(`n=${plan.n}: ${known} then ${id}`);
      this.acked.set(plan.n, id);
    } catch {
      this.failedCalls++;
    }
  }
}

/** Runs the chaos scenario; `quick` is the CI-sized `--short` run. */
export async function chaos(options: RunOptions): Promise<ScenarioResult> {
  const seed = options.seed ?? 1;
  const random = seeded(seed);
  const jobCount = options.quick ? 200 : 1_000;
  const killCount = options.quick ? 20 : 100;
  const gap = options.quick ? { min: 20, max: 350 } : { min: 20, max: 1500 };
  const plans: Plan[] = Array.from({ length: jobCount }, (_, i) => ({
    n: i + 1,
    stepMs: random.int(0, 150),
  }));
  using dir = tempDir("chaos");
  const store = `sqlite:${join(dir.path, "jobs.db")}`;
  const sideEffects = join(dir.path, "side-effects.log");

  const starts = new Starts();
  const { acked, conflicts } = starts;
  const boundaries: number[] = [];
  let kills = 0;
  let server: StdioServer = await startStdioServer({ store, sideEffects });
  const began = Date.now();

  const start = (target: StdioServer, plan: Plan) => starts.start(target, plan);

  try {
    // Starts are spread over the first two thirds of the kills so that kills land on every phase of a job.
    const startRounds = Math.max(1, Math.floor((killCount * 2) / 3));
    for (let round = 0; round < killCount; round++) {
      const unacked = plans.filter((p) => !acked.has(p.n));
      const share = round < startRounds ? Math.ceil(unacked.length / (startRounds - round)) : 0;
      const batch = unacked.slice(0, share);
      const target = server;
      const calls = batch.map((plan) => start(target, plan));
      // One kill in five comes at once, while starts are still in flight.
      await sleep(random.next() < 0.2 ? random.int(0, 3) : random.int(gap.min, gap.max));
      await server.kill();
      kills++;
      boundaries.push(sizeOf(sideEffects));
      await Promise.allSettled(calls);
      server = await startStdioServer({ store, sideEffects });
    }
    for (let attempt = 0; attempt < 5 && acked.size < plans.length; attempt++) {
      const target = server;
      await Promise.all(plans.filter((p) => !acked.has(p.n)).map((plan) => start(target, plan)));
    }
    const ids = plans.map((p) => acked.get(p.n)).filter((id): id is string => id !== undefined);
    const jobs = await awaitJobs(server, "three_step", ids, options.quick ? 60_000 : 180_000);
    // Starting every input again must join the existing job, not start a second one.
    let rejoined = 0;
    for (const plan of plans) {
      const again = await startJob(server, "three_step", { n: plan.n, step_ms: plan.stepMs });
      if (again.id === acked.get(plan.n) && !again.created) rejoined++;
    }
    const seconds = Math.round((Date.now() - began) / 1000);

    const byId = new Map(jobs.map((job) => [job.job_id, job]));
    const wrong = plans.filter((p) => {
      const job = byId.get(acked.get(p.n) ?? "");
      return job?.status !== "completed" || job.result?.total !== 6 * p.n || job.result?.n !== p.n;
    });
    const lines = readSideEffects(sideEffects);
    const traces = trace(lines, boundaries);
    const known = new Set(ids);
    const strangers = [...traces.keys()].filter((id) => !known.has(id));
    const missingSteps = ids.filter((id) => {
      const counts = traces.get(id)?.counts ?? [0, 0, 0];
      return counts.some((c) => c < 1);
    });
    const maxRuns = Math.max(0, ...[...traces.values()].flatMap((t) => t.counts));
    const overBound = [...traces.entries()].filter(([, t]) => t.counts.some((c) => c > 1 + kills));
    const twiceInOneLife = [...traces.entries()].filter(([, t]) =>
      [...t.perIncarnation.values()].some((c) => c > 1),
    );
    const outOfOrder = [...traces.entries()].filter(([, t]) => !t.ordered);
    const repeated = [...traces.values()].reduce(
      (sum, t) => sum + t.counts.reduce((a, c) => a + Math.max(0, c - 1), 0),
      0,
    );

    const checks: Check[] = [
      {
        name: `>= 200 jobs and >= 20 SIGKILLs`,
        ok: plans.length >= 200 && kills >= 20,
        detail: `${plans.length} jobs, ${kills} kills in ${seconds} s (${starts.failedCalls} start calls cut by a kill)`,
      },
      {
        name: "every job acknowledged under one stable ID",
        ok: acked.size === plans.length && conflicts.length === 0 && new Set(ids).size === ids.length,
        detail: `${acked.size}/${plans.length} acknowledged, ${conflicts.length} ID changes${conflicts.length ? `: ${conflicts.slice(0, 3).join("; ")}` : ""}`,
      },
      {
        name: "every job completed with the right result",
        ok: wrong.length === 0,
        detail: `${plans.length - wrong.length}/${plans.length} completed with total = 6n${wrong.length ? `; first wrong: n=${wrong[0]?.n} ${JSON.stringify(byId.get(acked.get(wrong[0]?.n ?? 0) ?? ""))}` : ""}`,
      },
      {
        name: "starting an input again joins its job",
        ok: rejoined === plans.length,
        detail: `${rejoined}/${plans.length} returned the same ID with created=false`,
      },
      {
        name: "every step ran at least once",
        ok: missingSteps.length === 0,
        detail: `${ids.length - missingSteps.length}/${ids.length} jobs have a line for each step`,
      },
      {
        name: "no side effect from an unknown or duplicated job",
        ok: strangers.length === 0,
        detail: strangers.length
          ? `unknown IDs: ${strangers.slice(0, 3).join(", ")}`
          : `${lines.length} lines, all of started jobs`,
      },
      {
        name: "a step repeats only across a kill",
        ok: twiceInOneLife.length === 0 && outOfOrder.length === 0 && overBound.length === 0,
        detail:
          `${repeated} repeated step runs in all, at most ${maxRuns} runs of one step (bound 1 + ${kills}); ` +
          `${twiceInOneLife.length} jobs ran a step twice in one process, ${outOfOrder.length} re-ran an earlier step`,
      },
    ];
    const table = formatTable(
      `Chaos (stdio, SQLite store): SEED=${seed}`,
      ["check", "result", "detail"],
      checks.map((c) => [c.name, c.ok ? "pass" : "FAIL", c.detail]),
    );
    return {
      name: "chaos",
      table,
      figures: {
        seed,
        jobs: plans.length,
        kills,
        seconds,
        repeated_step_runs: repeated,
        cut_start_calls: starts.failedCalls,
      },
      checks,
    };
  } finally {
    await server.close();
  }
}

/**
 * The multi-process mode: 3 stdio servers on one store file (the first owns it, the others join), jobs
 * started through all of them, and random SIGKILLs of any of them, the owner included, each followed by a
 * fresh process on the same file. Every job must complete with the right result under its first ID, and
 * a step may repeat only across a kill.
 */
export async function chaosMulti(options: RunOptions): Promise<ScenarioResult> {
  using dir = tempDir("chaos-multi");
  return await chaosShared(options, {
    kind: "sqlite",
    store: `sqlite:${join(dir.path, "jobs.db")}`,
    dir: dir.path,
  });
}

/**
 * The same on a Postgres store (a throwaway cluster of Debian's PostgreSQL on loopback, initialised with
 * `async-tools store init`): three replicas with no owner among them, SIGKILLs of any. Skipped, saying why,
 * where PostgreSQL cannot be started.
 */
export async function chaosMultiPostgres(options: RunOptions): Promise<ScenarioResult> {
  const why = postgresUnavailable();
  if (why !== undefined)
    return {
      name: "chaos_multi_pg",
      table: `chaos_multi_pg skipped: ${why}`,
      figures: {},
      checks: [{ name: "3 replicas on one Postgres store, SIGKILLs", ok: true, skipped: true, detail: why }],
    };
  const cluster = await startPostgres();
  try {
    cluster.createDatabase("chaos");
    const url = cluster.url("chaos");
    await storeInit(url);
    using dir = tempDir("chaos-multi-pg");
    return await chaosShared(options, { kind: "postgres", store: url, dir: dir.path });
  } finally {
    await cluster.stop();
  }
}

async function chaosShared(
  options: RunOptions,
  target: { kind: "sqlite" | "postgres"; store: string; dir: string },
): Promise<ScenarioResult> {
  const seed = options.seed ?? 1;
  const random = seeded(seed);
  const processes = 3;
  const jobCount = options.quick ? 120 : 600;
  const killCount = options.quick ? 12 : 60;
  const gap = options.quick ? { min: 50, max: 600 } : { min: 50, max: 2000 };
  const plans: Plan[] = Array.from({ length: jobCount }, (_, i) => ({
    n: i + 1,
    stepMs: random.int(0, 150),
  }));
  const { store } = target;
  const sideEffects = join(target.dir, "side-effects.log");
  const postgres = target.kind === "postgres";

  const starts = new Starts();
  const { acked, conflicts } = starts;
  let kills = 0;
  let ownerKills = 0;
  const servers: StdioServer[] = [];
  // At info level each process logs when it comes to own the store, which tells the owner apart.
  const launch = () => startStdioServer({ store, sideEffects, logLevel: "info" });
  for (let i = 0; i < processes; i++) servers.push(await launch());
  const ownerSlot = (): number | undefined => {
    const slot = servers.findIndex((server) => server.stderr().includes("store owned and served"));
    return slot === -1 ? undefined : slot;
  };
  const began = Date.now();

  const start = (target: StdioServer, plan: Plan) => starts.start(target, plan);

  try {
    const startRounds = Math.max(1, Math.floor((killCount * 2) / 3));
    for (let round = 0; round < killCount; round++) {
      const unacked = plans.filter((p) => !acked.has(p.n));
      const share = round < startRounds ? Math.ceil(unacked.length / (startRounds - round)) : 0;
      const calls = unacked
        .slice(0, share)
        .map((plan, i) => start(servers[(round + i) % processes] as StdioServer, plan));
      await sleep(random.next() < 0.2 ? random.int(0, 3) : random.int(gap.min, gap.max));
      // The owner is killed one time in three, so takeovers happen often; otherwise any process.
      const owner = ownerSlot();
      const victim: number =
        owner !== undefined && random.next() < 1 / 3 ? owner : random.int(0, processes - 1);
      if (victim === owner) ownerKills++;
      await (servers[victim] as StdioServer).kill();
      kills++;
      await Promise.allSettled(calls);
      servers[victim] = await launch();
    }
    const survivor = servers[0] as StdioServer;
    for (let attempt = 0; attempt < 5 && acked.size < plans.length; attempt++) {
      await Promise.all(plans.filter((p) => !acked.has(p.n)).map((plan) => start(survivor, plan)));
    }
    const ids = plans.map((p) => acked.get(p.n)).filter((id): id is string => id !== undefined);
    // Every process answers for every job: each awaits its share.
    const shares = servers.map((_, i) => ids.filter((_, j) => j % processes === i));
    const jobs = (
      await Promise.all(
        servers.map((server, i) =>
          awaitJobs(server, "three_step", shares[i] ?? [], options.quick ? 90_000 : 240_000),
        ),
      )
    ).flat();
    let rejoined = 0;
    for (const [i, plan] of plans.entries()) {
      const again = await startJob(servers[i % processes] as StdioServer, "three_step", {
        n: plan.n,
        step_ms: plan.stepMs,
      });
      if (again.id === acked.get(plan.n) && !again.created) rejoined++;
    }
    const seconds = Math.round((Date.now() - began) / 1000);

    const byId = new Map(jobs.map((job) => [job.job_id, job]));
    const wrong = plans.filter((p) => {
      const job = byId.get(acked.get(p.n) ?? "");
      return job?.status !== "completed" || job.result?.total !== 6 * p.n || job.result?.n !== p.n;
    });
    const lines = readSideEffects(sideEffects);
    const traces = trace(lines, []);
    const known = new Set(ids);
    const strangers = [...traces.keys()].filter((id) => !known.has(id));
    const missingSteps = ids.filter((id) => (traces.get(id)?.counts ?? [0, 0, 0]).some((c) => c < 1));
    const maxRuns = Math.max(0, ...[...traces.values()].flatMap((t) => t.counts));
    const overBound = [...traces.entries()].filter(([, t]) => t.counts.some((c) => c > 1 + kills));
    const outOfOrder = [...traces.entries()].filter(([, t]) => !t.ordered);
    const repeated = [...traces.values()].reduce(
      (sum, t) => sum + t.counts.reduce((a, c) => a + Math.max(0, c - 1), 0),
      0,
    );
    const checks: Check[] = [
      {
        name: postgres
          ? `${processes} replicas on one Postgres store, SIGKILLs of any of them`
          : `${processes} processes on one store, SIGKILLs of any of them (the owner included)`,
        ok: kills >= (options.quick ? 12 : 60) && (postgres || ownerKills >= 1),
        detail: `${plans.length} jobs, ${kills} kills${postgres ? "" : ` (${ownerKills} of the owner)`} in ${seconds} s (${starts.failedCalls} start calls cut by a kill)`,
      },
      {
        name: "every job acknowledged under one stable ID",
        ok: acked.size === plans.length && conflicts.length === 0 && new Set(ids).size === ids.length,
        detail: `${acked.size}/${plans.length} acknowledged, ${conflicts.length} ID changes${conflicts.length ? `: ${conflicts.slice(0, 3).join("; ")}` : ""}`,
      },
      {
        name: "every job completed with the right result, awaited from every process",
        ok: wrong.length === 0,
        detail: `${plans.length - wrong.length}/${plans.length} completed with total = 6n${wrong.length ? `; first wrong: n=${wrong[0]?.n} ${JSON.stringify(byId.get(acked.get(wrong[0]?.n ?? 0) ?? ""))}` : ""}`,
      },
      {
        name: "starting an input again from any process joins its job",
        ok: rejoined === plans.length,
        detail: `${rejoined}/${plans.length} returned the same ID with created=false`,
      },
      {
        name: "every step ran, and no side effect of an unknown job",
        ok: missingSteps.length === 0 && strangers.length === 0,
        detail: `${ids.length - missingSteps.length}/${ids.length} jobs have a line for each step; ${strangers.length} unknown IDs`,
      },
      {
        name: "a step repeats only across a kill",
        ok: outOfOrder.length === 0 && overBound.length === 0,
        detail: `${repeated} repeated step runs in all, at most ${maxRuns} runs of one step (bound 1 + ${kills}); ${outOfOrder.length} re-ran an earlier step`,
      },
    ];
    const table = formatTable(
      `Chaos (${processes} stdio processes, one ${postgres ? "Postgres" : "SQLite"} store): SEED=${seed}`,
      ["check", "result", "detail"],
      checks.map((c) => [c.name, c.ok ? "pass" : "FAIL", c.detail]),
    );
    return {
      name: postgres ? "chaos_multi_pg" : "chaos_multi",
      table,
      figures: {
        seed,
        processes,
        jobs: plans.length,
        kills,
        owner_kills: ownerKills,
        seconds,
        repeated_step_runs: repeated,
        cut_start_calls: starts.failedCalls,
      },
      checks,
    };
  } finally {
    await Promise.all(servers.map((server) => server.close()));
  }
}

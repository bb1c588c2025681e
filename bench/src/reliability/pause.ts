/**
 * Pause: a server stopped longer than the task lease (a laptop asleep, a frozen VM; SIGSTOP here) keeps its
 * jobs when it wakes. Alone on its store and as the owner of a shared store, no finished step runs again and
 * no job is logged as failed; a joiner whose lease the owner rightly took back stands down quietly, and only
 * the step it had in flight runs once more elsewhere. Steps are counted in a side-effect file.
 */
import { join } from "node:path";
import { tempDir } from "@async-tools/test-helpers/temp";
import { LEASE_ENV } from "../lib/bench-server.ts";
import { type StdioServer, startStdioServer } from "../lib/child.ts";
import { awaitJobs, type Job, startJob } from "../lib/mcp.ts";
import { type Check, fresh, type RunOptions, type ScenarioResult } from "../lib/scenario.ts";
import { readSideEffects } from "../lib/side-effects.ts";
import { formatTable } from "../lib/stats.ts";
import { pollUntil, sleep } from "../lib/time.ts";

/** Sizes of a run: `--short` (CI) or full (the issue's: a 4 s lease alone, the default 60 s lease shared). */
interface Sizes {
  /** Jobs per part. */
  jobs: number;
  stepMs: number;
  loneLeaseMs: number;
  lonePauseMs: number;
  /** Lease of the three processes of the shared store, and how long the owner, then a joiner, is stopped. */
  sharedLeaseMs: number;
  sharedPauseMs: number;
}

const SHORT: Sizes = {
  jobs: 9,
  stepMs: 2_000,
  loneLeaseMs: 2_000,
  lonePauseMs: 5_000,
  sharedLeaseMs: 2_000,
  sharedPauseMs: 5_000,
};
const FULL: Sizes = {
  jobs: 21,
  stepMs: 3_000,
  loneLeaseMs: 4_000,
  lonePauseMs: 8_000,
  sharedLeaseMs: 60_000,
  sharedPauseMs: 70_000,
};

/** What one stopped process left behind. */
interface Outcome {
  completed: number;
  jobs: number;
  /** Steps that began more than once, apart from those `allowed` to. */
  rerun: number;
  /** `job failed` lines logged by the processes. */
  falseFailures: number;
}

interface Stage {
  effects: string;
  servers: StdioServer[];
}

/**
 * Starts processes on one new store, one per log level (the first owns it, the others join), with lease
 * `leaseMs`. A process that logs at debug shows its stale executions ending.
 */
async function stage(dir: string, name: string, logLevels: string[], leaseMs: number): Promise<Stage> {
  const effects = join(dir, `${name}.log`);
  const store = `sqlite:${join(dir, `${name}.db`)}`;
  const servers: StdioServer[] = [];
  for (const logLevel of logLevels) {
    const env = { [LEASE_ENV]: String(leaseMs) };
    const server = await startStdioServer({ store, sideEffects: effects, logLevel, env });
    servers.push(server);
    if (servers.length === 1) continue;
    const joined = await pollUntil(() => server.stderr().includes("store joined") || undefined, 30_000, 50);
    if (!joined) throw new Error(`a process of ${name} did not join the store`);
  }
  return { effects, servers };
}

/** Starts `count` jobs on `server`; resolves with their IDs once each is inside its first step. */
async function startInStep(
  server: StdioServer,
  effects: string,
  count: number,
  sizes: Sizes,
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    ids.push((await startJob(server, "three_step", { n: fresh(), step_ms: sizes.stepMs })).id);
  }
  const begun = await pollUntil(
    () => {
      const seen = new Set(readSideEffects(effects).map((line) => line.jobId));
      return ids.every((id) => seen.has(id)) || undefined;
    },
    60_000,
    20,
  );
  if (!begun) throw new Error("the jobs did not begin their first step");
  return ids;
}

/** Stops `server` for `ms`; `atStop` reads what was so the moment it stopped. */
async function stopFor<T>(server: StdioServer, ms: number, atStop: () => T): Promise<T> {
  process.kill(server.pid, "SIGSTOP");
  try {
    const seen = atStop();
    await sleep(ms);
    return seen;
  } finally {
    process.kill(server.pid, "SIGCONT");
  }
}

/** The step each job was inside when its process was stopped: the last one it began. */
function inFlight(effects: string): Map<string, number> {
  const last = new Map<string, number>();
  for (const line of readSideEffects(effects)) last.set(line.jobId, line.step);
  return last;
}

function judge(effects: string, jobs: Job[], logs: string[], allowed: Map<string, number>): Outcome {
  const counts = new Map<string, number>();
  for (const line of readSideEffects(effects)) {
    const key = `${line.jobId} ${line.step}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  let rerun = 0;
  for (const [key, runs] of counts) {
    const [id = "", step = ""] = key.split(" ");
    const extra = allowed.get(id) === Number(step) ? 1 : 0;
    if (runs > 1 + extra) rerun++;
  }
  const falseFailures = logs
    .join("\n")
    .split("\n")
    .filter((line) => /job failed/.test(line)).length;
  return {
    jobs: jobs.length,
    completed: jobs.filter(
      (job) => job.status === "completed" && job.result?.total === 6 * (job.result?.n ?? 0),
    ).length,
    rerun,
    falseFailures,
  };
}

function check(name: string, outcome: Outcome): Check {
  return {
    name,
    ok: outcome.completed === outcome.jobs && outcome.rerun === 0 && outcome.falseFailures === 0,
    detail:
      `${outcome.completed}/${outcome.jobs} completed, ${outcome.rerun} finished step(s) ran again, ` +
      `${outcome.falseFailures} "job failed" line(s)`,
  };
}

async function closeAll(servers: StdioServer[]): Promise<void> {
  await Promise.all(servers.map((server) => server.kill()));
}

/** A process alone on its store, stopped for longer than its lease. */
async function lone(dir: string, sizes: Sizes): Promise<Outcome> {
  const { effects, servers } = await stage(dir, "lone", ["info"], sizes.loneLeaseMs);
  const [server] = servers as [StdioServer];
  try {
    const ids = await startInStep(server, effects, sizes.jobs, sizes);
    await stopFor(server, sizes.lonePauseMs, () => undefined);
    const jobs = await awaitJobs(server, "three_step", ids, 120_000);
    return judge(effects, jobs, [server.stderr()], new Map());
  } finally {
    await closeAll(servers);
  }
}

/** The owner of a store three processes share, stopped for longer than the lease while all run jobs. */
async function owner({ effects, servers }: Stage, sizes: Sizes): Promise<Outcome> {
  const share = Math.ceil(sizes.jobs / servers.length);
  const ids = (await Promise.all(servers.map((server) => startInStep(server, effects, share, sizes)))).flat();
  await stopFor(servers[0] as StdioServer, sizes.sharedPauseMs, () => undefined);
  const jobs = await awaitJobs(servers[0] as StdioServer, "three_step", ids, sizes.sharedPauseMs + 120_000);
  return judge(
    effects,
    jobs,
    servers.map((server) => server.stderr()),
    new Map(),
  );
}

/** A joiner stopped beyond its lease: the owner takes its jobs back and they finish once. */
async function joiner({ effects, servers }: Stage, sizes: Sizes): Promise<Outcome> {
  const paused = servers[1] as StdioServer;
  const ids = await startInStep(paused, effects, sizes.jobs, sizes);
  const flying = await stopFor(paused, sizes.sharedPauseMs, () => inFlight(effects));
  const jobs = await awaitJobs(servers[2] as StdioServer, "three_step", ids, 120_000);
  // The stale executions end once the paused joiner hears back from the store (a job queued behind the
  // tool's concurrency may have completed there before the pause).
  const ended = (id: string) =>
    new RegExp(`(stood down|job failed|job completed).* job=${id}\\b`).test(paused.stderr());
  await pollUntil(() => ids.every(ended) || undefined, 60_000, 50);
  return judge(effects, jobs, [paused.stderr()], flying);
}

/** `run`'s outcome with how long it took, in seconds. */
async function timedOutcome(run: () => Promise<Outcome>): Promise<Outcome & { seconds: number }> {
  const began = performance.now();
  const outcome = await run();
  return { ...outcome, seconds: Math.round((performance.now() - began) / 1000) };
}

/** The shared store's two parts, on one set of three processes: the owner stopped, then a joiner. */
async function sharedStore(dir: string, sizes: Sizes): Promise<[Outcome, Outcome]> {
  // The second process logs at debug, to show its stale executions ending when it is the one stopped.
  const shared = await stage(dir, "shared", ["info", "debug", "info"], sizes.sharedLeaseMs);
  try {
    const stopped = await timedOutcome(() => owner(shared, sizes));
    return [stopped, await timedOutcome(() => joiner(shared, sizes))];
  } finally {
    await closeAll(shared.servers);
  }
}

/** Runs the pause scenario; `quick` is the CI-sized `--short` run. The lone and shared stores run side by side. */
export async function pause(options: RunOptions): Promise<ScenarioResult> {
  const sizes = options.quick ? SHORT : FULL;
  using dir = tempDir("pause");
  const [alone, [shared, lost]] = await Promise.all([
    timedOutcome(() => lone(dir.path, sizes)),
    sharedStore(dir.path, sizes),
  ]);
  const seconds = (ms: number) => `${ms / 1000} s`;
  const shape = `${seconds(sizes.sharedPauseMs)} with a ${seconds(sizes.sharedLeaseMs)} lease`;
  const checks: Check[] = [
    check(`alone, stopped ${seconds(sizes.lonePauseMs)} with a ${seconds(sizes.loneLeaseMs)} lease`, alone),
    check(`owner of 3 stopped ${shape}`, shared),
    check(`joiner of 3 stopped ${shape} stands down`, lost),
  ];
  return {
    name: "pause",
    table: formatTable(
      "Pause",
      ["check", "result", "detail"],
      checks.map((c) => [c.name, c.ok ? "pass" : "FAIL", c.detail]),
    ),
    figures: { alone, shared, lost },
    checks,
  };
}

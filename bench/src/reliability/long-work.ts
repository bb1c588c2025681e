/**
 * Long work runs once (issue 11), with real processes, real SIGKILLs and a fake upstream on 127.0.0.1. Every
 * check counts side effects (lines in a file outside the store, requests at the fake), never time alone:
 * a step longer than the lease runs once; a hung upstream fails the job after its timeout without overlapping
 * attempts; thousands of starts are answered at once while at most `concurrency` jobs call the upstream;
 * `Retry-After` is obeyed and visible; interrupted jobs resume at boot with no client; a server whose stdin
 * closes lets go of the store; a cancel made through another process of the store stops the running step
 * within 1.5 s; a job interrupted on a version that is gone fails, one still registered ends,
 * one whose input no longer fits fails clearly, and two definitions of one name and version are refused.
 * `LONG_WORK_PARTS=lease,back_pressure` runs only the parts named.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { AsyncToolsError, createAsyncTools } from "@async-tools/core";
import { structured } from "@async-tools/test-helpers/mcp";
import { tempDir } from "@async-tools/test-helpers/temp";
import {
  createBenchRuntime,
  LEASE_ENV,
  preciseNow,
  UPSTREAM_CONCURRENCY_ENV,
  UPSTREAM_ENV,
  UPSTREAM_RETRY,
  upstreamJob,
  VERSIONED_REQUIRES_ENV,
  VERSIONS_ENV,
  versionedJob,
} from "../lib/bench-server.ts";
import { childEnv, NODE_ARGS, type StdioServer, startHttpServer, startStdioServer } from "../lib/child.ts";
import { type FakeUpstream, gate, startFakeUpstream } from "../lib/fake-upstream.ts";
import { connectInProcess } from "../lib/in-process.ts";
import {
  awaitJobs,
  type Caller,
  connectHttp,
  type Job,
  probeJobs,
  startJob,
  unfinished,
} from "../lib/mcp.ts";
import { type Check, fresh, type RunOptions, type ScenarioResult } from "../lib/scenario.ts";
import { readSideEffects } from "../lib/side-effects.ts";
import { formatTable, quantile } from "../lib/stats.ts";
import { pollUntil, sleep } from "../lib/time.ts";

/** The core's default task lease (docs/configuration.md): the full run's long step outlasts it by half. */
const DEFAULT_LEASE_MS = 60_000;

/** Starts in flight at once in the back-pressure check, as from as many busy clients. */
const CALLERS = 8;

/** Sizes of a run: `--short` (CI) or full. */
interface Sizes {
  leaseMs: number;
  stepMs: number;
  /** A step run with the default lease; 0 skips it. */
  defaultLeaseStepMs: number;
  hungTimeoutMs: number;
  /** The tool's job timeout in the job-timeout check. */
  jobTimeoutMs: number;
  starts: number;
  concurrency: number;
  retryAfterSeconds: number;
  recoveryRounds: number;
  stdinRounds: number;
}

const SHORT: Sizes = {
  leaseMs: 1_500,
  stepMs: 10_000,
  defaultLeaseStepMs: 0,
  hungTimeoutMs: 1_000,
  jobTimeoutMs: 2_000,
  starts: 2_000,
  concurrency: 8,
  retryAfterSeconds: 2,
  recoveryRounds: 2,
  stdinRounds: 3,
};

const FULL: Sizes = {
  ...SHORT,
  defaultLeaseStepMs: 90_000,
  hungTimeoutMs: 2_000,
  jobTimeoutMs: 3_000,
  starts: 10_000,
  retryAfterSeconds: 3,
  recoveryRounds: 5,
  stdinRounds: 10,
};

/** The numbers on `id`'s lines of the side-effect file: one per execution (the step, or the version that ran). */
function effectsOf(path: string, id: string): number[] {
  return readSideEffects(path)
    .filter((line) => line.jobId === id)
    .map((line) => line.step);
}

function ms(value: number): string {
  return `${Math.round(value)} ms`;
}

/** Whether `pid` runs: a zombie (exited, not yet reaped by its new parent) counts as gone. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** One job of `long_step` with a step of `stepMs`: it completes, and its step left exactly one line. */
async function longStepRunsOnce(
  caller: Caller,
  effects: string,
  stepMs: number,
  label: string,
): Promise<Check> {
  const began = performance.now();
  const { id } = await startJob(caller, "long_step", { n: fresh(), step_ms: stepMs });
  const [job] = await awaitJobs(caller, "long_step", [id], stepMs + 60_000);
  const runs = effectsOf(effects, id).length;
  return {
    name: `a ${stepMs / 1000} s step with a ${label} runs once`,
    ok: job?.status === "completed" && runs === 1,
    detail: `${job?.status}${job?.error ? ` (${job.error})` : ""} after ${ms(performance.now() - began)}; the step ran ${runs} time(s)`,
  };
}

/** 1. A step longer than the lease: in process and over stdio through MCP, side by side. */
async function leases(dir: string, sizes: Sizes): Promise<Check[]> {
  const localEffects = join(dir, "lease-local.log");
  const tools = await createBenchRuntime(`sqlite:${join(dir, "lease-local.db")}`, localEffects, {
    leaseMs: sizes.leaseMs,
  });
  const local = await connectInProcess(tools);
  const stdioEffects = join(dir, "lease-stdio.log");
  const server = await startStdioServer({
    store: `sqlite:${join(dir, "lease-stdio.db")}`,
    sideEffects: stdioEffects,
    env: { [LEASE_ENV]: String(sizes.leaseMs) },
  });
  try {
    const label = `${sizes.leaseMs / 1000} s lease`;
    return await Promise.all([
      longStepRunsOnce(local, localEffects, sizes.stepMs, `${label}, in process`),
      longStepRunsOnce(server, stdioEffects, sizes.stepMs, `${label}, over stdio`),
    ]);
  } finally {
    await local.close();
    await tools.close();
    await server.close();
  }
}

/** The full run's step of 90 s with the default lease, over stdio; started first, judged last. */
function defaultLease(dir: string, stepMs: number): Promise<Check> {
  const effects = join(dir, "lease-default.log");
  return (async () => {
    const server = await startStdioServer({
      store: `sqlite:${join(dir, "lease-default.db")}`,
      sideEffects: effects,
    });
    try {
      return await longStepRunsOnce(
        server,
        effects,
        stepMs,
        `default (${DEFAULT_LEASE_MS / 1000} s) lease, over stdio`,
      );
    } finally {
      await server.close();
    }
  })();
}

/** A stdio bench server whose `upstream` tool calls `fake`. */
function upstreamServer(
  dir: string,
  name: string,
  fake: FakeUpstream,
  concurrency?: number,
): Promise<StdioServer> {
  const env: Record<string, string> = { [UPSTREAM_ENV]: fake.url };
  if (concurrency !== undefined) env[UPSTREAM_CONCURRENCY_ENV] = String(concurrency);
  return startStdioServer({ store: `sqlite:${join(dir, `${name}.db`)}`, env });
}

/** 1b. A hung upstream: each attempt is cut by the step's timeout, attempts never overlap, the job fails. */
async function hungUpstream(dir: string, sizes: Sizes): Promise<Check[]> {
  await using fake = await startFakeUpstream(() => "hang");
  const server = await upstreamServer(dir, "hung", fake);
  try {
    const timeoutMs = sizes.hungTimeoutMs;
    const began = preciseNow();
    const { id } = await startJob(server, "upstream", { n: fresh(), timeout_ms: timeoutMs });
    const [job] = await awaitJobs(server, "upstream", [id], 60_000);
    const tookMs = preciseNow() - began;
    const requests = fake.requests.filter((r) => r.job === id);
    const gaps = requests.slice(1).map((r, i) => r.at - (requests[i]?.at ?? 0));
    // Attempt k+1 cannot begin before attempt k's timeout has cut it.
    const serial = gaps.every((gap) => gap >= timeoutMs);
    const policyDelays = [
      UPSTREAM_RETRY.initialDelayMs,
      UPSTREAM_RETRY.initialDelayMs * UPSTREAM_RETRY.factor,
    ];
    const leastMs = UPSTREAM_RETRY.attempts * timeoutMs + policyDelays.reduce((a, b) => a + b, 0);
    const message = `did not answer within ${timeoutMs} ms`;
    return [
      {
        name: `a hung upstream with a ${timeoutMs / 1000} s step timeout fails the job with a clear message`,
        ok: job?.status === "failed" && (job.error ?? "").includes(message) && tookMs >= leastMs - 50,
        detail: `${job?.status} after ${ms(tookMs)} (${UPSTREAM_RETRY.attempts} attempts x ${timeoutMs} ms + backoff = ${leastMs} ms): ${JSON.stringify(job?.error)}`,
      },
      {
        name: "a hung upstream sees one attempt at a time, each attempt once",
        ok: requests.length === UPSTREAM_RETRY.attempts && fake.maxInFlight() === 1 && serial,
        detail: `${requests.length} requests (policy: ${UPSTREAM_RETRY.attempts} attempts), at most ${fake.maxInFlight()} in flight, ${gaps.map((g) => ms(g)).join(", ")} between arrivals`,
      },
    ];
  } finally {
    await server.close();
  }
}

/**
 * 1c. A job timeout (`timeoutMs` on the tool) over a step that hangs without its own timeout: the job fails
 * after it, clearly, with one attempt. Beyond that, the hung step should be aborted (the job's signal) and the
 * upstream hear no more of the job, even when the hung connection breaks later and the step could retry.
 */
async function jobTimeout(dir: string, sizes: Sizes): Promise<Check[]> {
  const timeoutMs = sizes.jobTimeoutMs;
  // The hung connection breaks 3 s after the job's timeout: the store fails a timed-out job within a second
  // (its timeout tick), so the job has failed by then and the request is still open unless it was aborted.
  const breakAfterMs = timeoutMs + 3_000;
  await using fake = await startFakeUpstream(async (request) => {
    if (request.attempt > 0) return { status: 200 };
    await sleep(breakAfterMs);
    return "reset";
  });
  const tool = upstreamJob({ url: fake.url, timeoutMs });
  await using tools = await createAsyncTools({
    store: `sqlite:${join(dir, "job-timeout.db")}`,
    tools: [tool],
  });
  const began = preciseNow();
  const { jobId } = await tools.start(tool, { n: fresh() });
  const [job] = await tools.wait([jobId], { timeoutMs: timeoutMs + 30_000 });
  const failedAt = preciseNow();
  const requestsAtFailure = fake.requests.length;
  await sleep(500);
  const openAfterFailure = fake.inFlight();
  // Past the break and the policy's first retry delay: a retry would have reached the upstream by now.
  await sleep(Math.max(0, began + breakAfterMs + UPSTREAM_RETRY.initialDelayMs + 1_000 - preciseNow()));
  const later = fake.requests.length - requestsAtFailure;
  const tookMs = failedAt - began;
  return [
    {
      name: `a job timeout of ${timeoutMs / 1000} s fails a hung job with a clear message, one attempt`,
      ok:
        job?.status === "failed" &&
        job.error?.code === "timed_out" &&
        tookMs >= timeoutMs - 50 &&
        requestsAtFailure === 1 &&
        fake.maxInFlight() === 1,
      detail: `${job?.status} after ${ms(tookMs)}: ${JSON.stringify(job?.error)}; ${requestsAtFailure} request(s) by then, at most ${fake.maxInFlight()} in flight`,
    },
    {
      name: "a timed-out job's step is aborted and calls the upstream no more",
      ok: openAfterFailure === 0 && later === 0,
      detail: `0.5 s after the job failed its request was ${openAfterFailure === 0 ? "closed" : "still open"}; ${later} request(s) for it after it failed${later > 0 ? " (once the hung connection broke, the step retried)" : ""}`,
    },
  ];
}

/** The issue's bound (22): a cancel made elsewhere closes the running step's request within this. */
const CANCEL_REACHES_WITHIN_MS = 1_500;

/**
 * 1d. A cancel made through another process: two stdio servers on one store file (the second joins the
 * first), a job's request hanging at the upstream in the first, cancelled through the second. The running
 * process must hear of it, close the request, retry nothing, and not log the job as failed.
 */
async function cancelElsewhere(dir: string): Promise<Check[]> {
  // The hung connection breaks after a while: a step that was not aborted would then retry.
  const breakAfterMs = 5_000;
  await using fake = await startFakeUpstream(async (request) => {
    if (request.attempt > 0) return { status: 200 };
    await sleep(breakAfterMs);
    return "reset";
  });
  const store = `sqlite:${join(dir, "cancel-elsewhere.db")}`;
  const options = { store, logLevel: "info", env: { [UPSTREAM_ENV]: fake.url } };
  const running = await startStdioServer(options);
  const other = await startStdioServer(options);
  try {
    const joined = await pollUntil(() => (/store joined/.test(other.stderr()) ? true : undefined), 15_000);
    if (!joined) throw new Error("the second server did not join the first one's store");
    const { id } = await startJob(running, "upstream", { n: fresh() });
    const arrived = await pollUntil(() => (fake.requests.length > 0 ? true : undefined), 15_000);
    if (!arrived) throw new Error("the job's request never reached the upstream");
    const [cancelled] = structured<{ jobs: Job[] }>(
      await other.call("cancel_upstream", { job_ids: [id] }),
    ).jobs;
    const answeredAt = performance.now();
    const closed = await pollUntil(() => (fake.inFlight() === 0 ? performance.now() : undefined), 15_000);
    const closedMs = closed === undefined ? undefined : closed - answeredAt;
    // Past the break and the policy's first retry delay: a retry would have reached the upstream by now.
    await sleep(breakAfterMs + UPSTREAM_RETRY.initialDelayMs + 1_000);
    const requests = fake.requests.filter((r) => r.job === id).length;
    const failed = /job failed/.test(running.stderr());
    return [
      {
        name: `a job cancelled through another process of its store stops there within ${CANCEL_REACHES_WITHIN_MS / 1000} s, retries nothing, fails nothing`,
        ok:
          cancelled?.status === "cancelled" &&
          closedMs !== undefined &&
          closedMs < CANCEL_REACHES_WITHIN_MS &&
          requests === 1 &&
          !failed,
        detail: `${cancelled?.status}; the running request closed ${closedMs === undefined ? "never" : `${ms(closedMs)} after the cancel's answer`}; ${requests} upstream request(s); ${failed ? "logged `job failed`" : "no `job failed` line"}`,
      },
    ];
  } finally {
    await other.close();
    await running.close();
  }
}

/** 2. Back-pressure: N starts answered at once, at most C jobs at the upstream, queued jobs know their place. */
async function backPressure(
  dir: string,
  sizes: Sizes,
): Promise<{ checks: Check[]; figures: Record<string, unknown> }> {
  const { starts, concurrency } = sizes;
  const held = gate();
  await using fake = await startFakeUpstream(async () => {
    await held.wait();
    return { status: 200 };
  });
  const server = await upstreamServer(dir, "pressure", fake, concurrency);
  try {
    const ids: string[] = new Array(starts);
    const latencies: number[] = new Array(starts).fill(Number.NaN);
    let failedStarts = 0;
    const base = fresh() * 1_000_000;
    let next = 0;
    const began = performance.now();
    await Promise.all(
      Array.from({ length: CALLERS }, async () => {
        for (let i = next++; i < starts; i = next++) {
          const at = performance.now();
          try {
            ids[i] = (await startJob(server, "upstream", { n: base + i })).id;
          } catch {
            failedStarts++;
          }
          latencies[i] = performance.now() - at;
        }
      }),
    );
    const startSeconds = (performance.now() - began) / 1000;
    // The gate holds every answer: exactly `concurrency` jobs reach the upstream and the rest wait their turn.
    await pollUntil(() => (fake.requests.length >= concurrency ? true : undefined), 30_000);
    await sleep(200);
    const reachedWhileHeld = fake.requests.length;
    const probed = await probeJobs(server, "upstream", ids.filter(Boolean));
    const queued = probed.filter((job) => job.status === "queued");
    const working = probed.filter((job) => job.status === "working").length;
    const positions = queued.map((job) => job.queue_position ?? 0).sort((a, b) => a - b);
    const placesExact = positions.every((p, i) => p === i + 1);
    const positionOf = new Map(queued.map((job) => [job.job_id, job.queue_position ?? 0]));

    const drained = performance.now();
    held.open();
    const jobs = await awaitJobs(server, "upstream", ids, 300_000);
    const drainSeconds = (performance.now() - drained) / 1000;
    const completed = jobs.filter((job) => job.status === "completed").length;
    const perJob = fake.perJob();
    const repeated = [...perJob.values()].filter((count) => count > 1).length;
    // Start order: the job told it waits at place p gets the p-th freed slot, so it is about the
    // (concurrency + p)-th to reach the upstream; jobs granted slots close together may pass each other on
    // their way there, but never by `concurrency` places or more.
    const arrival = new Map(fake.requests.map((r, i) => [r.job, i]));
    const displacement = [...positionOf].map(([id, place]) =>
      Math.abs((arrival.get(id) ?? Number.POSITIVE_INFINITY) - (concurrency + place - 1)),
    );
    const outOfOrder = displacement.filter((d) => d >= concurrency).length;
    const passed = displacement.filter((d) => d > 0).length;
    const farthest = Math.max(0, ...displacement);
    const p50 = quantile(latencies, 0.5);
    const p99 = quantile(latencies, 0.99);
    const max = Math.max(...latencies);
    // The first and the last tenth of the starts: the last ones start behind thousands of queued jobs.
    const tenth = Math.max(1, Math.floor(starts / 10));
    const firstP50 = quantile(latencies.slice(0, tenth), 0.5);
    const lastP50 = quantile(latencies.slice(-tenth), 0.5);
    const checks: Check[] = [
      {
        name: `${starts} starts of a tool with concurrency ${concurrency} are all answered, none waits for a slot`,
        ok: failedStarts === 0 && ids.filter(Boolean).length === starts,
        detail: `${starts - failedStarts}/${starts} answered in ${startSeconds.toFixed(1)} s (${CALLERS} in flight); start latency p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${max.toFixed(1)} ms (p50 of the first tenth ${firstP50.toFixed(1)} ms, of the last ${lastP50.toFixed(1)} ms), while no job could finish`,
      },
      {
        name: "probe says queued, with each waiting job's place",
        ok: working === concurrency && queued.length === starts - concurrency && placesExact,
        detail: `${working} working, ${queued.length} queued with places ${positions[0]}..${positions.at(-1)} (${placesExact ? "1..N-C, each once" : "NOT 1..N-C"}); ${reachedWhileHeld} had reached the upstream`,
      },
      {
        name: `at most ${concurrency} requests in flight at the upstream`,
        ok: fake.maxInFlight() <= concurrency && reachedWhileHeld === concurrency,
        detail: `at most ${fake.maxInFlight()} in flight; ${reachedWhileHeld} requests while the upstream held every answer`,
      },
      {
        name: "every job completes; the upstream sees one request per job, in start order",
        ok:
          completed === starts &&
          fake.requests.length === starts &&
          perJob.size === starts &&
          outOfOrder === 0,
        detail: `${completed}/${starts} completed in ${drainSeconds.toFixed(1)} s once released; ${fake.requests.length} requests for ${perJob.size} jobs (${repeated} jobs called twice); ${outOfOrder} queued jobs reached it ${concurrency} or more places away from their queue place (${passed} passed or were passed by a neighbour, by at most ${farthest})`,
      },
    ];
    return {
      checks,
      figures: {
        starts,
        concurrency,
        start_seconds: Number(startSeconds.toFixed(2)),
        start_p50_ms: Number(p50.toFixed(2)),
        start_p99_ms: Number(p99.toFixed(2)),
        start_max_ms: Number(max.toFixed(2)),
        start_p50_first_tenth_ms: Number(firstP50.toFixed(2)),
        start_p50_last_tenth_ms: Number(lastP50.toFixed(2)),
        max_in_flight: fake.maxInFlight(),
        upstream_requests: fake.requests.length,
        drain_seconds: Number(drainSeconds.toFixed(2)),
      },
    };
  } finally {
    await server.close();
  }
}

/** 3. Retry-After: 429 (and 503) with `Retry-After`, then 200; the next attempt waits as asked, and shows. */
async function retryAfter(dir: string, sizes: Sizes): Promise<Check[]> {
  const seconds = sizes.retryAfterSeconds;
  await using fake = await startFakeUpstream((request) =>
    request.attempt > 0
      ? { status: 200 }
      : { status: request.n % 2 === 0 ? 429 : 503, headers: { "retry-after": String(seconds) } },
  );
  const server = await upstreamServer(dir, "retry-after", fake);
  try {
    const one = async (status: 429 | 503): Promise<Check[]> => {
      const n = fresh() * 2 + (status === 429 ? 0 : 1);
      const { id } = await startJob(server, "upstream", { n });
      // Probe through the wait, until the second attempt reaches the upstream; keep the first retrying state.
      let seen: Job["retrying"];
      const again = () => fake.requests.some((r) => r.job === id && r.attempt > 0);
      const watching = (async () => {
        for (let i = 0; i < 10_000 && !again(); i++) {
          const [probed] = await probeJobs(server, "upstream", [id]);
          seen ??= probed?.retrying;
          if (probed === undefined || !unfinished(probed.status)) return;
          await sleep(100);
        }
      })();
      const [job] = await awaitJobs(server, "upstream", [id], seconds * 1000 + 30_000);
      await watching;
      const requests = fake.requests.filter((r) => r.job === id);
      const gap = (requests[1]?.at ?? Number.NaN) - (requests[0]?.at ?? Number.NaN);
      return [
        {
          name: `${status} with Retry-After: ${seconds}: the next attempt comes >= ${seconds} s later, once`,
          ok: job?.status === "completed" && requests.length === 2 && gap >= seconds * 1000,
          detail: `${requests.length} requests, ${ms(gap)} apart (the policy alone: ${UPSTREAM_RETRY.initialDelayMs} ms); ${job?.status}`,
        },
        {
          name: `${status}: probe shows the job retrying, with step, attempt and error`,
          ok:
            seen?.step === "fetch" &&
            seen.attempt === 1 &&
            seen.attempts === UPSTREAM_RETRY.attempts &&
            seen.error.includes(String(status)),
          detail: JSON.stringify(seen ?? null),
        },
        {
          name: `${status}: the retry is logged at warn with time, job, step and error`,
          ok: retryLogged(server.stderr(), id),
          detail:
            server
              .stderr()
              .split("\n")
              .find((line) => line.includes("step retried") && line.includes(id)) ?? "no such line",
        },
      ];
    };
    return (await Promise.all([one(429), one(503)])).flat();
  } finally {
    await server.close();
  }
}

/** Whether `stderr` has a warn line for a retry of `id`'s step `fetch`, with a timestamp and the error. */
function retryLogged(stderr: string, id: string): boolean {
  return stderr.split("\n").some(
    (line) =>
      // The terminal format: `<ISO time> WARN  async-tools step retried job=… tool=… step=… error=…`.
      /^\d{4}-\d\d-\d\dT\S+ WARN +async-tools step retried /.test(line) &&
      line.includes(`job=${id}`) &&
      line.includes("step=fetch") &&
      line.includes("error="),
  );
}

/**
 * 4. Recovery at boot: an HTTP server is SIGKILLed while its job's step waits on the upstream, then started
 * again with no client. The upstream must see the resumed request soon after the restart; a client that
 * connects only after that finds the job completed.
 */
async function recoveryAtBoot(
  dir: string,
  sizes: Sizes,
): Promise<{ checks: Check[]; figures: Record<string, unknown> }> {
  // The first request of each job hangs (the server dies under it); the resumed one is answered.
  await using fake = await startFakeUpstream((request) => (request.attempt === 0 ? "hang" : { status: 200 }));
  const rounds: { resumeMs: number; listenMs: number; requests: number; status: string }[] = [];
  // Judged from the moment the new server listens: how long Node takes to boot on a busy machine is not
  // the library's; recovery waiting for a client would never come at all.
  for (let round = 0; round < sizes.recoveryRounds; round++) {
    const store = `sqlite:${join(dir, `boot-${round}.db`)}`;
    const env = { [UPSTREAM_ENV]: fake.url };
    const first = await startHttpServer({ store, env });
    let id = "";
    try {
      const client = await connectHttp(first.url);
      id = (await startJob(client, "upstream", { n: fresh() })).id;
      await client.close();
      await pollUntil(() => (fake.requests.some((r) => r.job === id) ? true : undefined), 10_000);
    } finally {
      await first.kill();
    }
    const spawnedAt = preciseNow();
    const second = await startHttpServer({ store, env });
    const listenMs = preciseNow() - spawnedAt;
    try {
      const resumed = await pollUntil(
        () => fake.requests.find((r) => r.job === id && r.attempt === 1),
        10_000,
      );
      // Only now does a client come.
      const client = await connectHttp(second.url);
      const [job] = await awaitJobs(client, "upstream", [id], 30_000);
      await client.close();
      rounds.push({
        resumeMs: resumed === undefined ? Number.NaN : resumed.at - spawnedAt,
        listenMs,
        requests: fake.requests.filter((r) => r.job === id).length,
        status: job?.status ?? "missing",
      });
    } finally {
      await second.kill();
    }
  }
  return {
    checks: [
      {
        name: "after a SIGKILL mid-step, a restarted --http server resumes the job within 2 s, no client needed",
        ok: rounds.every((r) => r.resumeMs - r.listenMs <= 2_000),
        detail: `the upstream saw the resumed request ${rounds.map((r) => ms(r.resumeMs)).join(", ")} after the restart's spawn (listening after ${rounds.map((r) => ms(r.listenMs)).join(", ")}), over ${rounds.length} rounds`,
      },
      {
        name: "the resumed job completes, one request per process life",
        ok: rounds.every((r) => r.status === "completed" && r.requests === 2),
        detail: rounds.map((r) => `${r.status}, ${r.requests} requests`).join("; "),
      },
    ],
    figures: {
      rounds: rounds.length,
      resume_ms_from_spawn: rounds.map((r) => Math.round(r.resumeMs)),
      resume_ms_from_listening: rounds.map((r) => Math.round(r.resumeMs - r.listenMs)),
    },
  };
}

/**
 * A client process that spawns the stdio bench server, starts a long job through it and prints the server's
 * pid; SIGKILLing it leaves the server with a closed stdin, as a crashed MCP host does.
 */
const DOOMED_CLIENT = `
const { spawn } = require("node:child_process");
const [command, ...args] = JSON.parse(process.argv[1]);
const server = spawn(command, args, { stdio: ["pipe", "pipe", "inherit"] });
let out = "";
server.stdout.on("data", (chunk) => {
  out += chunk;
  if (out.includes('"id":2')) process.stdout.write("ready " + server.pid + "\\n");
});
const send = (message) => server.stdin.write(JSON.stringify(message) + "\\n");
send({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "doomed", version: "0" } } });
send({ jsonrpc: "2.0", method: "notifications/initialized" });
send({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "start_long_step", arguments: { n: Number(process.argv[2]), step_ms: 60000 } } });
setInterval(() => {}, 60000);
`;

/** 5. Stdin close: the server of a SIGKILLed client exits within 1 s and the next one opens the store at once. */
async function stdinClose(
  dir: string,
  sizes: Sizes,
): Promise<{ checks: Check[]; figures: Record<string, unknown> }> {
  const rounds: { exitMs: number; openMs: number; error: string }[] = [];
  for (let round = 0; round < sizes.stdinRounds; round++) {
    const effects = join(dir, `stdin-${round}.log`);
    const store = `sqlite:${join(dir, `stdin-${round}.db`)}`;
    const client = spawn(
      process.execPath,
      ["-e", DOOMED_CLIENT, JSON.stringify([process.execPath, ...NODE_ARGS]), String(fresh())],
      {
        env: childEnv({ store, sideEffects: effects }),
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let err = "";
    client.stderr.on("data", (chunk: Buffer) => {
      err += chunk.toString();
    });
    let out = "";
    const serverPid = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the doomed client never got its job started: ${err.slice(-500)}`)),
        30_000,
      );
      client.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        const match = /ready (\d+)/.exec(out);
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
    });
    // The job's step is running in the server when its client dies.
    await pollUntil(() => (readSideEffects(effects).length > 0 ? true : undefined), 10_000);
    client.kill("SIGKILL");
    const killedAt = performance.now();
    await pollUntil(() => (running(serverPid) ? undefined : true), 1_000, 2);
    const exitMs = running(serverPid) ? Number.POSITIVE_INFINITY : performance.now() - killedAt;
    // The next server comes 1 s after the kill at the latest, whether or not the old one has gone.
    let error = "";
    const openedAt = performance.now();
    try {
      const tools = await createBenchRuntime(store, undefined, {});
      await tools.close();
    } catch (caught) {
      error = caught instanceof AsyncToolsError ? `${caught.code}: ${caught.message}` : String(caught);
    }
    if (running(serverPid)) process.kill(serverPid, "SIGKILL");
    rounds.push({ exitMs, openMs: performance.now() - openedAt, error });
  }
  const worstExit = Math.max(...rounds.map((r) => r.exitMs));
  const worstOpen = Math.max(...rounds.map((r) => r.openMs));
  return {
    checks: [
      {
        name: "a stdio server whose client was SIGKILLed mid-job exits within 1 s",
        ok: rounds.every((r) => r.exitMs <= 1_000),
        detail: `exited ${rounds.map((r) => (Number.isFinite(r.exitMs) ? ms(r.exitMs) : "not within 1 s")).join(", ")} after the client's SIGKILL`,
      },
      {
        name: "the next server opens the store at once (no STORE_LOCKED)",
        ok: rounds.every((r) => r.error === ""),
        detail: `opened in ${rounds.map((r) => ms(r.openMs)).join(", ")}${rounds.some((r) => r.error) ? `; ${rounds.find((r) => r.error)?.error}` : ""}`,
      },
    ],
    figures: {
      rounds: rounds.length,
      exit_ms_max: Number.isFinite(worstExit) ? Math.round(worstExit) : "over 1000",
      open_ms_max: Math.round(worstOpen),
    },
  };
}

/**
 * 6. Versions: a job SIGKILLed while version 1's step runs. Restarted with only version 2 it fails at once,
 * naming version 1; restarted with versions 1 and 2 it completes on version 1's code.
 */
async function versions(dir: string): Promise<{ checks: Check[]; figures: Record<string, unknown> }> {
  const interrupt = async (name: string, then: Record<string, string>, input = {}) => {
    const effects = join(dir, `${name}.log`);
    const store = `sqlite:${join(dir, `${name}.db`)}`;
    const old = await startStdioServer({ store, sideEffects: effects, env: { [VERSIONS_ENV]: "1" } });
    let id = "";
    try {
      id = (await startJob(old, "versioned", { n: fresh(), hold_ms: 1_500 })).id;
      await pollUntil(() => (effectsOf(effects, id).length > 0 ? true : undefined), 10_000);
    } finally {
      await old.kill();
    }
    const server = await startStdioServer({ store, sideEffects: effects, env: then });
    const readyAt = performance.now();
    try {
      const [job] = await awaitJobs(server, "versioned", [id], 30_000);
      const settledMs = performance.now() - readyAt;
      const fresh2 = await startJob(server, "versioned", { n: fresh(), ...input });
      const [newJob] = await awaitJobs(server, "versioned", [fresh2.id], 30_000);
      return { job, settledMs, effects: effectsOf(effects, id), newJob };
    } finally {
      await server.close();
    }
  };
  const gone = await interrupt("versions-gone", { [VERSIONS_ENV]: "2" });
  const kept = await interrupt("versions-kept", { [VERSIONS_ENV]: "1,2" });
  // Same version, but its input now requires `label`: the interrupted job's stored input lacks it.
  const strict = await interrupt(
    "versions-strict",
    { [VERSIONS_ENV]: "1", [VERSIONED_REQUIRES_ENV]: "label" },
    { label: "new" },
  );
  let duplicate = "";
  try {
    await (await createAsyncTools({ store: "memory", tools: [versionedJob(1), versionedJob(1)] })).close();
    duplicate = "accepted";
  } catch (error) {
    duplicate = error instanceof AsyncToolsError ? `${error.code}: ${error.message}` : String(error);
  }
  const checks: Check[] = [
    {
      name: "a job resumed under a changed input schema fails clearly, without running the new code",
      ok:
        strict.job?.status === "failed" &&
        /no longer matches/.test(strict.job.error ?? "") &&
        (strict.job.error ?? "").includes("label") &&
        strict.effects.length === 1 &&
        strict.newJob?.status === "completed",
      detail: `${strict.job?.status} ${ms(strict.settledMs)} after the restarted server's handshake: ${JSON.stringify(strict.job?.error)}; its step ran ${strict.effects.length} time(s); a new job with the field ${strict.newJob?.status}`,
    },
    {
      name: "two definitions with one name and version: DUPLICATE_TOOL",
      ok: duplicate.startsWith("DUPLICATE_TOOL"),
      detail: duplicate.slice(0, 200),
    },
    {
      name: "a job interrupted on version 1, restarted with only version 2, fails at once naming version 1",
      ok:
        gone.job?.status === "failed" &&
        /version 1\b/.test(gone.job.error ?? "") &&
        gone.effects.every((v) => v === 1) &&
        gone.settledMs <= 1_000,
      detail: `${gone.job?.status} ${ms(gone.settledMs)} after the restarted server's handshake: ${JSON.stringify(gone.job?.error)}; its step ran ${gone.effects.length} time(s), on version(s) ${gone.effects.join(",")}`,
    },
    {
      name: "restarted with versions 1 and 2, it completes on version 1; new jobs run version 2",
      ok:
        kept.job?.status === "completed" &&
        kept.job.result?.version === 1 &&
        kept.effects.length === 2 &&
        kept.effects.every((v) => v === 1) &&
        kept.newJob?.result?.version === 2,
      detail: `${kept.job?.status} ${ms(kept.settledMs)} after the restarted server's handshake, result ${JSON.stringify(kept.job?.result)}; its step ran on version(s) ${kept.effects.join(",")} (once per process life); a new job ran version ${kept.newJob?.result?.version}`,
    },
  ];
  return {
    checks,
    figures: {
      failed_ms_after_handshake: Math.round(gone.settledMs),
      invalid_input_failed_ms_after_handshake: Math.round(strict.settledMs),
      completed_ms_after_handshake: Math.round(kept.settledMs),
    },
  };
}

/** `LONG_WORK_PARTS=lease,versions` runs only those parts (to replay one); unset, all of them. */
const PARTS = process.env.LONG_WORK_PARTS?.split(",").map((name) => name.trim());

/** Runs one part; a part that throws becomes one failed check, and the others still run. */
async function part(
  name: string,
  checks: Check[],
  figures: Record<string, unknown>,
  run: () => Promise<Check[] | { checks: Check[]; figures: Record<string, unknown> }>,
): Promise<void> {
  if (PARTS !== undefined && !PARTS.includes(name)) return;
  const began = performance.now();
  try {
    const out = await run();
    if (Array.isArray(out)) checks.push(...out);
    else {
      checks.push(...out.checks);
      figures[name] = out.figures;
    }
  } catch (error) {
    checks.push({
      name: `${name} ran to the end`,
      ok: false,
      detail: error instanceof Error ? error.message.slice(0, 400) : String(error),
    });
  }
  const seconds = Number(((performance.now() - began) / 1000).toFixed(1));
  figures[`${name}_seconds`] = seconds;
  process.stderr.write(`reliability: long_work: ${name} ${seconds} s\n`);
}

/** Runs the long-work checks; `quick` is the CI-sized `--short` run. */
export async function longWork(options: RunOptions): Promise<ScenarioResult> {
  const sizes = options.quick ? SHORT : FULL;
  using dir = tempDir("long-work");
  const checks: Check[] = [];
  const figures: Record<string, unknown> = {};
  const began = performance.now();
  // The full run's 90 s step sleeps in its own process while the other parts run.
  const background =
    sizes.defaultLeaseStepMs > 0 && (PARTS === undefined || PARTS.includes("default_lease"))
      ? defaultLease(dir.path, sizes.defaultLeaseStepMs)
      : undefined;
  background?.catch(() => undefined);
  await part("lease", checks, figures, () => leases(dir.path, sizes));
  await part("hung_upstream", checks, figures, () => hungUpstream(dir.path, sizes));
  await part("job_timeout", checks, figures, () => jobTimeout(dir.path, sizes));
  await part("cancel_elsewhere", checks, figures, () => cancelElsewhere(dir.path));
  await part("back_pressure", checks, figures, () => backPressure(dir.path, sizes));
  await part("retry_after", checks, figures, () => retryAfter(dir.path, sizes));
  await part("recovery_at_boot", checks, figures, () => recoveryAtBoot(dir.path, sizes));
  await part("stdin_close", checks, figures, () => stdinClose(dir.path, sizes));
  await part("versions", checks, figures, () => versions(dir.path));
  if (background) await part("default_lease", checks, figures, async () => [await background]);
  figures.seconds = Math.round((performance.now() - began) / 1000);
  return {
    name: "long_work",
    table: formatTable(
      "Long work",
      ["check", "result", "detail"],
      checks.map((c) => [c.name, c.ok ? "pass" : "FAIL", c.detail]),
    ),
    figures,
    checks,
  };
}

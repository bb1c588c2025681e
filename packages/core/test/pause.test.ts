/**
 * A process stopped longer than the task lease (a laptop asleep, a frozen VM: SIGSTOP here) keeps its jobs when
 * it wakes: no step that finished runs again and no job is logged as failed. A process whose lease another one
 * really took over meanwhile stands down quietly. Real child processes on a real store file, a short lease.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type StdioChild, sideEffectCounts, startStdioChild } from "@async-tools/test-helpers/children";
import { afterEach, describe, expect, it } from "vitest";

const SERVER = join(import.meta.dirname, "fixtures", "steps-server.ts");
/** Short enough that a pause of a few seconds outlasts it; heartbeats renew it every second. */
const LEASE_MS = 2000;
/** Step 2 runs this long, so the pause catches every job inside it. */
const STEP2_MS = 4000;
/** Three leases: every lease has lapsed by wall time when the process wakes. */
const PAUSE_MS = 3 * LEASE_MS;

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

type Jobs = { jobs: { job_id: string; status: string; result?: { total: number } }[]; done: boolean };

function store(): { env: Record<string, string>; effects: string } {
  const dir = mkdtempSync(join(tmpdir(), "async-tools-pause-"));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const effects = join(dir, "effects.log");
  return {
    env: {
      ASYNC_TOOLS_STORE: `sqlite:${join(dir, "jobs.db")}`,
      SIDE_EFFECTS: effects,
      STEP2_MS: String(STEP2_MS),
      LEASE_MS: String(LEASE_MS),
    },
    effects,
  };
}

async function start(env: Record<string, string>): Promise<StdioChild> {
  const child = await startStdioChild(SERVER, { env: env });
  cleanup.push(async () => {
    try {
      process.kill(child.pid, "SIGCONT");
    } catch {
      // Already gone.
    }
    await child.close();
  });
  return child;
}

async function startJobs(child: StdioChild, from: number, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let n = from; n < from + count; n++) {
    ids.push((await child.data<{ job_id: string }>("start_steps", { n })).job_id);
  }
  return ids;
}

/** Waits until every job is inside step 2 (its side effect is written as the step begins). */
async function inStepTwo(effects: string, ids: string[]): Promise<void> {
  await expect
    .poll(() => ids.every((id) => sideEffectCounts(effects).get(`${id} 2`) === 1), { timeout: 30_000 })
    .toBe(true);
}

async function pause(child: StdioChild, ms: number): Promise<void> {
  process.kill(child.pid, "SIGSTOP");
  await new Promise((resolve) => setTimeout(resolve, ms));
  process.kill(child.pid, "SIGCONT");
}

/** Awaits every job through `child` and checks each completed. */
async function awaitCompleted(child: StdioChild, ids: string[]): Promise<void> {
  let result: Jobs | undefined;
  await expect
    .poll(
      async () => {
        result = await child.data<Jobs>("await_steps", { job_ids: ids, timeout_seconds: 10 });
        return result.done;
      },
      { timeout: 60_000, interval: 100 },
    )
    .toBe(true);
  expect(result?.jobs.map((job) => job.status)).toEqual(ids.map(() => "completed"));
}

/** How often each job's steps 1, 2 and 3 began. */
function stepRuns(effects: string, ids: string[]): Record<string, number[]> {
  const seen = sideEffectCounts(effects);
  return Object.fromEntries(ids.map((id) => [id, [1, 2, 3].map((step) => seen.get(`${id} ${step}`) ?? 0)]));
}

function eachOnce(ids: string[]): Record<string, number[]> {
  return Object.fromEntries(ids.map((id) => [id, [1, 1, 1]]));
}

/** Checks that each job completed in one process only, reading the logs of all of them. */
function completedOnce(children: StdioChild[], ids: string[]): void {
  const logs = children.map((child) => child.stderr()).join("\n");
  for (const id of ids) expect(count(logs, new RegExp(`job completed.* job=${id}\\b`)), id).toBe(1);
}

function count(text: string, pattern: RegExp): number {
  return text.split("\n").filter((line) => pattern.test(line)).length;
}

describe("a process stopped longer than the task lease", () => {
  it("runs no finished step again and logs no job as failed when it is alone on its store", async () => {
    const { env, effects } = store();
    const lone = await start(env);
    const ids = await startJobs(lone, 1, 5);
    await inStepTwo(effects, ids);
    await pause(lone, PAUSE_MS);

    await awaitCompleted(lone, ids);
    expect(stepRuns(effects, ids)).toEqual(eachOnce(ids));
    expect(lone.stderr()).not.toMatch(/job failed|WARN/);
  }, 120_000);

  it("keeps every process's jobs when the owner of a shared store is stopped", async () => {
    const { env, effects } = store();
    const owner = await start(env);
    const joiners = [await start(env), await start(env)];
    for (const joiner of joiners) await expect.poll(() => joiner.stderr()).toMatch(/store joined/);
    const all = [owner, ...joiners];
    const ids: string[] = [];
    for (const [i, child] of all.entries()) ids.push(...(await startJobs(child, 10 * i + 1, 2)));
    await inStepTwo(effects, ids);
    await pause(owner, PAUSE_MS);

    await awaitCompleted(owner, ids);
    expect(stepRuns(effects, ids)).toEqual(eachOnce(ids));
    expect(all.map((child) => child.stderr()).join("\n")).not.toMatch(/job failed/);
    completedOnce(all, ids);
  }, 120_000);

  it("stands down quietly when a joiner stopped beyond its lease lost its job to another process", async () => {
    const { env, effects } = store();
    const owner = await start(env);
    // Debug lines show the paused joiner's stale executions ending.
    const joiners = [await start({ ...env, ASYNC_TOOLS_LOG: "debug" }), await start(env)];
    for (const joiner of joiners) await expect.poll(() => joiner.stderr()).toMatch(/store joined/);
    const [paused, other] = joiners as [StdioChild, StdioChild];
    const ids = await startJobs(paused, 1, 3);
    await inStepTwo(effects, ids);
    await pause(paused, PAUSE_MS);

    await awaitCompleted(other, ids);
    for (const [id, [one, two, three]] of Object.entries(stepRuns(effects, ids))) {
      // The step in flight when the lease really lapsed runs once more; no finished step does.
      expect([one, three], id).toEqual([1, 1]);
      expect(two, id).toBeLessThanOrEqual(2);
    }
    completedOnce([owner, ...joiners], ids);
    // Once awake, the paused joiner's stale executions end, each without a failure or a warning.
    for (const id of ids) {
      const ended = new RegExp(`(stood down|job failed).* job=${id}\\b`);
      await expect.poll(() => paused.stderr(), { timeout: 30_000 }).toMatch(ended);
    }
    expect(paused.stderr()).not.toMatch(/job failed|WARN/);
  }, 120_000);
});

/**
 * The step log on a real store file: attempt numbers continue from what the file holds, an attempt that
 * ends in the turn it began is written once, and the counts it keeps in RAM stay exact past their bound.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StatementSync } from "node:sqlite";
import { afterEach, expect, it, vi } from "vitest";
import { SqliteNetwork } from "./sqlite-network.ts";
import { STEP_COUNTS_CACHED_JOBS, StepLog } from "./step-log.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function storePath(): string {
  const dir = mkdtempSync(join(tmpdir(), "async-tools-step-log-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, "store.db");
}

async function openLog(path: string): Promise<{ network: SqliteNetwork; steps: StepLog }> {
  const network = await SqliteNetwork.open({ path, tickMs: 0 });
  const steps = new StepLog(network.db, network);
  cleanups.push(async () => {
    steps.close();
    await network.stop();
  });
  return { network, steps };
}

it("numbers attempts on from the file after a restart and marks the one left running interrupted", async () => {
  const path = storePath();
  const first = await openLog(path);
  const one = await first.steps.begin("job-1", "s1", "fetch", 1_000);
  first.steps.end("job-1", "s1", one, 1_010, "boom");
  expect(await first.steps.begin("job-1", "s1", "fetch", 1_020)).toBe(2);
  first.steps.close();
  await first.network.stop();

  const second = await openLog(path);
  expect(await second.steps.begin("job-1", "s1", "fetch", 2_000)).toBe(3);
  expect(await second.steps.begin("job-1", "s2", "store", 2_010)).toBe(1);
  const [s1] = await second.steps.steps("job-1");
  expect(s1?.attempts.map((a) => [a.attempt, a.outcome, a.endedAt])).toEqual([
    [1, "failed", 1_010],
    [2, "interrupted", 2_000],
    [3, "running", undefined],
  ]);
});

it("writes an attempt that ends in the turn it began as one row, reading the job's counts once", async () => {
  const { steps } = await openLog(storePath());
  const run = vi.spyOn(StatementSync.prototype, "run");
  const all = vi.spyOn(StatementSync.prototype, "all");
  const get = vi.spyOn(StatementSync.prototype, "get");
  for (const [step, at] of [
    ["s1", 1_000],
    ["s2", 1_100],
    ["s3", 1_200],
  ] as const) {
    const attempt = await steps.begin("job-2", step, step, at);
    steps.end("job-2", step, attempt, at + 10);
  }
  steps.retryAt("job-2", "s3", 1, 5_000);
  steps.flush();
  expect(run.mock.calls.length).toBe(3);
  expect(all.mock.calls.length + get.mock.calls.length).toBe(1);
  vi.restoreAllMocks();
  expect(await steps.steps("job-2")).toEqual([
    {
      stepId: "s1",
      name: "s1",
      attempts: [{ attempt: 1, outcome: "succeeded", startedAt: 1_000, endedAt: 1_010 }],
    },
    {
      stepId: "s2",
      name: "s2",
      attempts: [{ attempt: 1, outcome: "succeeded", startedAt: 1_100, endedAt: 1_110 }],
    },
    {
      stepId: "s3",
      name: "s3",
      attempts: [{ attempt: 1, outcome: "succeeded", startedAt: 1_200, endedAt: 1_210, retryAt: 5_000 }],
    },
  ]);
  // An end that comes after the row was written updates it.
  steps.end("job-2", "s1", 1, 1_500, "late");
  expect((await steps.steps("job-2"))[0]?.attempts[0]).toMatchObject({ outcome: "failed", error: "late" });
});

it("keeps counting right for a job whose counts were dropped from RAM while its start was still queued", async () => {
  const { steps } = await openLog(storePath());
  expect(await steps.begin("job-0", "s1", "fetch", 1_000)).toBe(1);
  for (let n = 1; n <= STEP_COUNTS_CACHED_JOBS; n++) await steps.begin(`job-${n}`, "s1", "fetch", 1_000);
  expect(await steps.begin("job-0", "s1", "fetch", 2_000)).toBe(2);
  expect((await steps.steps("job-0"))[0]?.attempts.map((a) => a.outcome)).toEqual(["interrupted", "running"]);
});

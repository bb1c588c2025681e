/**
 * A step's checkpoint on the Postgres store (migration 0010), against a real PostgreSQL: the create of a step's
 * promise starts its attempt in the step log and its settle ends it, in the same calls; on a job's first run a
 * step's create is answered in the replica and sent with its settle, so a three-step job makes three step round
 * trips and no statement of the step log's own; the create commits without waiting for the disk, the settle
 * waits; a create that finds the step still pending (its replica died during the step) marks the attempt before
 * interrupted. Skipped, in one line, where PostgreSQL cannot be started.
 */
import { type PostgresCluster, postgresUnavailable, startPostgres } from "@async-tools/test-helpers/postgres";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { DEFAULTS_POSTGRES } from "../src/defaults.ts";
import { createAsyncTools, defineAsyncTool } from "../src/index.ts";
import { postgresStoreInit, threeStepsTool } from "./helpers.ts";

const unavailable = postgresUnavailable();
if (unavailable !== undefined) console.warn(`postgres step tests skipped: ${unavailable}`);

/** Jobs measured one after another, after one to warm up. */
const JOBS = 5;
/** Jobs at once for the batched case: more than the requests the network keeps in flight. */
const AT_ONCE = 32;

const threeSteps = threeStepsTool(AT_ONCE);

/** Counts the statements this process sends to Postgres through `pg`, by a short name of each. */
function countStatements(): { counts: Map<string, number>; stop(): void } {
  const counts = new Map<string, number>();
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const [text, values] = args;
    const sql = typeof text === "string" ? text : ((text as { text?: string } | undefined)?.text ?? "");
    const name = sql.includes("async_tools.rpc(")
      ? "step request"
      : sql.includes("async_tools.rpc_batch(")
        ? "batch"
        : sql.includes("async_tools.steps")
          ? "step log"
          : "other";
    counts.set(name, (counts.get(name) ?? 0) + 1);
    // A round trip that carries a step's request: its create or settle, fenced by the job's task.
    if (Array.isArray(values) && values.some((value) => String(value).includes('"task.fence"')))
      counts.set("step round trip", (counts.get("step round trip") ?? 0) + 1);
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query;
  return {
    counts,
    stop: () => {
      pg.Client.prototype.query = query;
    },
  };
}

type StepRowOut = { job_id: string; name: string; attempt: number; outcome: string; ended: boolean };

describe.skipIf(unavailable !== undefined)("a step's checkpoint on the Postgres store", () => {
  let cluster: PostgresCluster;
  beforeAll(async () => {
    cluster = await startPostgres();
    cluster.createDatabase("steps");
    await postgresStoreInit(cluster.url("steps"));
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  const stepRows = (jobIds: readonly string[]): StepRowOut[] =>
    JSON.parse(
      cluster.psql(
        `SELECT coalesce(json_agg(s ORDER BY s.job_id, s.name, s.attempt), '[]') FROM (
           SELECT job_id, name, attempt, outcome, ended_at >= started_at AS ended FROM async_tools.steps
           WHERE job_id = ANY (ARRAY['${jobIds.join("','")}'])) s`,
        "steps",
      ),
    );

  it("sends a three-step job's steps in three round trips with its step log in them, and no statement of the step log's own", async () => {
    await using runtime = await createAsyncTools({ store: cluster.url("steps"), tools: [threeSteps] });
    const one = async (n: number) => {
      const started = await runtime.start(threeSteps, { n });
      const [job] = await runtime.wait([started.jobId], { timeoutMs: 30_000 });
      expect(job).toMatchObject({ status: "completed", result: { total: 6 * n } });
      return started.jobId;
    };
    await one(100);
    const counting = countStatements();
    const ids: string[] = [];
    try {
      for (let n = 1; n <= JOBS; n++) ids.push(await one(n));
    } finally {
      counting.stop();
    }
    // Was: six step requests to resonate_rpc, three begins and three ends of the step log, per job; then six
    // step requests carrying the step log; now each step's create goes with its settle.
    expect(counting.counts.get("step round trip")).toBe(3 * JOBS);
    expect(counting.counts.get("step log") ?? 0).toBe(0);
    const rows = stepRows(ids);
    expect(rows).toHaveLength(3 * JOBS);
    for (const id of ids)
      expect(rows.filter((row) => row.job_id === id)).toEqual(
        ["step1", "step2", "step3"].map((name) => ({
          job_id: id,
          name,
          attempt: 1,
          outcome: "succeeded",
          ended: true,
        })),
      );
    // A job read through the runtime shows the same timeline.
    const detail = await runtime.get(ids[0] as string);
    expect(detail.steps.map((step) => [step.name, step.status, step.attempts.length])).toEqual([
      ["step1", "succeeded", 1],
      ["step2", "succeeded", 1],
      ["step3", "succeeded", 1],
    ]);
  });

  it("records every step of jobs whose requests went together in batches", async () => {
    await using runtime = await createAsyncTools({ store: cluster.url("steps"), tools: [threeSteps] });
    const counting = countStatements();
    let ids: string[];
    try {
      const started = await Promise.all(
        Array.from({ length: AT_ONCE }, (_, n) => runtime.start(threeSteps, { n: 1_000 + n })),
      );
      ids = started.map((job) => job.jobId);
      const done = await runtime.wait(ids, { timeoutMs: 60_000 });
      expect(done.map((job) => job.status)).toEqual(Array(AT_ONCE).fill("completed"));
    } finally {
      counting.stop();
    }
    expect(counting.counts.get("batch")).toBeGreaterThan(0);
    const rows = stepRows(ids);
    expect(rows).toHaveLength(3 * AT_ONCE);
    expect(rows.filter((row) => row.outcome !== "succeeded" || row.attempt !== 1 || !row.ended)).toEqual([]);
  });

  it("records a step retried after a failure, whose create the failure's record sent ahead of its settle", async () => {
    let calls = 0;
    const flaky = defineAsyncTool({
      name: "flaky",
      description: "A step that fails once",
      input: z.object({ n: z.number() }),
      retry: { attempts: 2, initialDelayMs: 10 },
      run: (ctx, { n }) =>
        ctx.run("flaky", async () => {
          calls += 1;
          if (calls === 1) throw new Error("first attempt fails");
          return n;
        }),
    });
    await using runtime = await createAsyncTools({ store: cluster.url("steps"), tools: [flaky] });
    const started = await runtime.start(flaky, { n: 7 });
    const [job] = await runtime.wait([started.jobId], { timeoutMs: 30_000 });
    expect(job).toMatchObject({ status: "completed", result: 7 });
    await expect
      .poll(() => stepRows([started.jobId]).map((row) => [row.attempt, row.outcome, row.ended]), {
        timeout: 10_000,
      })
      .toEqual([
        [1, "failed", true],
        [2, "succeeded", true],
      ]);
  });

  it("sends the create of a step still running after stepCreateHoldMs alone, so the step log shows it running", async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow = defineAsyncTool({
      name: "slow",
      description: "A step that runs until the test releases it",
      input: z.object({ n: z.number() }),
      retry: false,
      run: (ctx, { n }) => ctx.run("slow", () => held.then(() => n)),
    });
    await using runtime = await createAsyncTools({ store: cluster.url("steps"), tools: [slow] });
    const started = await runtime.start(slow, { n: 8 });
    await expect
      .poll(() => stepRows([started.jobId]).map((row) => row.outcome), {
        timeout: 10 * DEFAULTS_POSTGRES.stepCreateHoldMs,
      })
      .toEqual(["running"]);
    release();
    const [job] = await runtime.wait([started.jobId], { timeoutMs: 30_000 });
    expect(job).toMatchObject({ status: "completed", result: 8 });
    expect(stepRows([started.jobId]).map((row) => [row.attempt, row.outcome, row.ended])).toEqual([
      [1, "succeeded", true],
    ]);
  });

  it("commits a step's create without waiting for the disk and its settle waiting, and interrupts an attempt a create finds still running", async () => {
    const client = new pg.Client({ connectionString: cluster.url("steps") });
    await client.connect();
    try {
      /** Runs `sql` in a transaction of its own: its answer, and whether its commit waits for the disk. */
      const committed = async <T>(sql: string, values: unknown[]) => {
        await client.query("BEGIN");
        const { rows } = await client.query<{ res: T }>(sql, values);
        const sync = (await client.query<{ synchronous_commit: string }>("SHOW synchronous_commit")).rows[0]
          ?.synchronous_commit;
        await client.query("COMMIT");
        return { answer: rows[0]?.res as T, sync };
      };
      const json = (value: unknown) => (value === null ? null : JSON.stringify(value));
      const rpc = (request: unknown, step: unknown) =>
        committed<Record<string, unknown>>("SELECT async_tools.rpc($1::jsonb, $2::jsonb) AS res", [
          json(request),
          json(step),
        ]);
      const batch = (requests: unknown[], steps: unknown[]) =>
        committed<Record<string, unknown>[]>(
          "SELECT async_tools.rpc_batch($1::jsonb[], 100, $2::jsonb[]) AS res",
          [requests.map(json), steps.map(json)],
        );
      const head = { corrId: "t", version: "2026-04-01" };
      const now = Date.now();
      const job = "job-by-hand";
      const root = await rpc(
        {
          kind: "task.create",
          head,
          data: {
            pid: "p",
            ttl: 60_000,
            action: {
              kind: "promise.create",
              head,
              data: {
                id: job,
                timeoutAt: now + 60_000,
                param: {},
                tags: { "resonate:target": "poll://any@x" },
              },
            },
          },
        },
        null,
      );
      expect(root.sync).toBe("on");
      const task = (root.answer.data as { task: { id: string; version: number } }).task;
      const fence = (action: unknown) => ({ kind: "task.fence", head, data: { ...task, action } });
      const create = fence({
        kind: "promise.create",
        head,
        data: {
          id: `${job}:0`,
          timeoutAt: now + 60_000,
          param: {},
          tags: { "resonate:scope": "local", "resonate:parent": job, "async-tools:step": "fetch" },
        },
      });
      const first = await rpc(create, { at: now });
      expect(first.sync).toBe("off");
      expect(first.answer).toMatchObject({ head: { status: 200 }, asyncTools: { attempt: 1 } });
      // A batch of step creates and reads does not wait either; one with any other request does.
      const read = { kind: "promise.get", head, data: { id: job } };
      const together = await batch([create, read], [{ at: now + 1 }, null]);
      expect(together.sync).toBe("off");
      expect(together.answer[0]).toMatchObject({ asyncTools: { attempt: 2 } });
      expect(together.answer[1]).toMatchObject({ head: { status: 200 } });
      const listen = {
        kind: "promise.register_listener",
        head,
        data: { awaited: job, address: "poll://uni@x/y" },
      };
      const written = await batch([create, listen], [{ at: now + 2 }, null]);
      expect(written.sync).toBe("on");
      expect(written.answer[0]).toMatchObject({ asyncTools: { attempt: 3 } });
      // The replica that ran attempt 1 died; the next to hold the task creates the step again.
      const second = await rpc(create, { at: now + 5 });
      expect(second.answer).toMatchObject({ asyncTools: { attempt: 4 } });
      const settle = fence({
        kind: "promise.settle",
        head,
        data: { id: `${job}:0`, state: "resolved", value: {} },
      });
      const settled = await rpc(settle, { job, step: `${job}:0`, attempt: 4, at: now + 9 });
      expect(settled.sync).toBe("on");
      expect(settled.answer).not.toHaveProperty("asyncTools");
      // A finished step is not run again: its create starts no attempt.
      const replay = await rpc(create, { at: now + 20 });
      expect(replay.answer).not.toHaveProperty("asyncTools");
      expect(
        cluster
          .psql(
            `SELECT name, attempt, outcome, ended_at - ${now} FROM async_tools.steps WHERE job_id = '${job}' ORDER BY attempt`,
            "steps",
          )
          .trim()
          .split("\n"),
      ).toEqual([
        "fetch|1|interrupted|1",
        "fetch|2|interrupted|2",
        "fetch|3|interrupted|5",
        "fetch|4|succeeded|9",
      ]);
    } finally {
      await client.end();
    }
  });
});

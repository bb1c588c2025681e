/**
 * The Postgres store against a real PostgreSQL (Debian's server, a throwaway cluster on 127.0.0.1): the schema
 * is applied by `async-tools store init` (twice: the second applies nothing), a replica refuses a database that
 * was not initialised or a role without the grants, naming what to do, and jobs run under the least-privilege
 * worker role. Skipped, in one line, where PostgreSQL cannot be started.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { childEnv, sideEffectCounts, startStdioChild } from "@async-tools/test-helpers/children";
import { type PostgresCluster, postgresUnavailable, startPostgres } from "@async-tools/test-helpers/postgres";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { AsyncToolsError, createAsyncTools, defineAsyncTool } from "../src/index.ts";
import { MIGRATIONS } from "../src/store/postgres/schema.ts";

const unavailable = postgresUnavailable();
if (unavailable !== undefined) console.warn(`postgres tests skipped: ${unavailable}`);

const CLI = join(import.meta.dirname, "..", "src", "cli", "main.ts");
const STEPS_SERVER = join(import.meta.dirname, "fixtures", "steps-server.ts");
const run = promisify(execFile);

function storeInit(url: string) {
  return run(process.execPath, ["--conditions=@async-tools/source", CLI, "store", "init", "--store", url], {
    env: childEnv(),
  });
}

const twoSteps = defineAsyncTool({
  name: "two_steps",
  description: "Adds one twice, in two durable steps",
  input: z.object({ n: z.number() }),
  run: async (ctx, { n }) => {
    const once = await ctx.run("first", async () => n + 1);
    return await ctx.run("second", async () => once + 1);
  },
});

describe.skipIf(unavailable !== undefined)("the Postgres store", () => {
  let cluster: PostgresCluster;
  beforeAll(async () => {
    cluster = await startPostgres();
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it("refuses a database without the schema, naming `store init`", async () => {
    cluster.createDatabase("bare");
    const attempt = createAsyncTools({ store: cluster.url("bare"), tools: [twoSteps] });
    await expect(attempt).rejects.toBeInstanceOf(AsyncToolsError);
    await expect(attempt).rejects.toMatchObject({
      code: "STORE_SCHEMA",
      message: expect.stringContaining(`async-tools store init --store ${cluster.url("bare")}`),
    });
  });

  it("applies the schema once with `store init`; a second run applies nothing", async () => {
    cluster.createDatabase("initdb");
    const first = await storeInit(cluster.url("initdb"));
    expect(first.stdout).toContain(`applied ${MIGRATIONS.map((m) => m.id).join(", ")}`);
    const second = await storeInit(cluster.url("initdb"));
    expect(second.stdout).toContain("up to date");
    expect(
      cluster.psql("SELECT id FROM async_tools.migrations ORDER BY id", "initdb").trim().split("\n"),
    ).toEqual(MIGRATIONS.map((m) => m.id));
  });

  it("runs jobs under the least-privilege worker role, with one LISTEN connection per process", async () => {
    cluster.createDatabase("work");
    await storeInit(cluster.url("work"));
    cluster.psql("CREATE ROLE app_worker LOGIN IN ROLE resonate_worker", "work");
    await using runtime = await createAsyncTools({
      store: cluster.url("work", "app_worker"),
      tools: [twoSteps],
    });
    const job = await runtime.start(twoSteps, { n: 40 });
    // Without the grant on process_timeouts() no drain gets past it: the job's completion is never
    // delivered and the wait ends on its own bound, still `working`.
    const [done] = await runtime.wait([job.jobId], { timeoutMs: 15_000 });
    expect(done).toMatchObject({ status: "completed", result: 42 });
    // The network LISTENs on one connection of its own; `new Resonate()` initialising it again opened another.
    const connections = cluster.psql(
      "SELECT count(DISTINCT pid) FROM pg_stat_activity WHERE usename = 'app_worker' AND query LIKE 'LISTEN%'",
      "work",
    );
    expect(connections.trim()).toBe("1");
  });

  it("shows every job, its progress and its steps through every replica and the CLI", {
    timeout: 90_000,
  }, async () => {
    cluster.createDatabase("shared");
    await storeInit(cluster.url("shared"));
    cluster.psql("CREATE ROLE replica LOGIN IN ROLE resonate_worker", "shared");
    const url = cluster.url("shared", "replica");
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const waits = defineAsyncTool({
      name: "waits",
      description: "Reports progress, then waits for the test",
      input: z.object({ n: z.number() }),
      run: async (ctx, { n }) => {
        const first = await ctx.run("first", async () => n * 2);
        ctx.progress(0.5, "halfway");
        await ctx.run("held", () => held);
        return first;
      },
    });
    await using a = await createAsyncTools({ store: url, tools: [waits] });
    await using b = await createAsyncTools({ store: url, tools: [waits] });
    const job = await a.start(waits, { n: 21 });
    await expect
      .poll(async () => (await b.probe([job.jobId]))[0]?.progress, { timeout: 20_000, interval: 100 })
      .toMatchObject({ fraction: 0.5, message: "halfway" });
    expect((await b.list()).jobs.map((j) => j.jobId)).toContain(job.jobId);
    release();
    const [done] = await b.wait([job.jobId], { timeoutMs: 15_000 });
    expect(done).toMatchObject({ status: "completed", result: 42 });
    const detail = await b.get(job.jobId);
    expect(detail.steps.map((step) => [step.name, step.attempts.map((t) => t.outcome)])).toEqual([
      ["first", ["succeeded"]],
      ["held", ["succeeded"]],
    ]);
    const listed = await run(
      process.execPath,
      ["--conditions=@async-tools/source", CLI, "jobs", "list", "--store", url, "--json"],
      { env: childEnv() },
    );
    expect(listed.stdout).toContain(job.jobId);
  });

  it("hands a SIGKILLed replica's job to a survivor in seconds, not after its lease, and re-runs no finished step", async () => {
    cluster.createDatabase("takeover");
    await storeInit(cluster.url("takeover"));
    const dir = mkdtempSync(join(tmpdir(), "async-tools-pg-takeover-"));
    const marks = join(dir, "side-effects");
    writeFileSync(marks, "");
    const env = { ASYNC_TOOLS_STORE: cluster.url("takeover"), SIDE_EFFECTS: marks };
    const a = await startStdioChild(STEPS_SERVER, { env: { ...env, STEP2_MS: "600000" } });
    const b = await startStdioChild(STEPS_SERVER, { env: { ...env, STEP2_MS: "50" } });
    try {
      const started = await a.data<{ job_id: string }>("start_steps", { n: 1 });
      const job = started.job_id;
      await expect.poll(() => readFileSync(marks, "utf8"), { timeout: 30_000 }).toContain(`${job} 2`);
      await a.kill();
      const killedAt = Date.now();
      // Within the default 60 s lease only a takeover can finish the job; it should take a few seconds.
      const done = await b.data<{ jobs: { status: string; result?: unknown }[] }>("await_steps", {
        job_ids: [job],
        timeout_seconds: 45,
      });
      const tookMs = Date.now() - killedAt;
      expect(done.jobs[0]).toMatchObject({ status: "completed", result: { total: 5 } });
      console.info(`postgres takeover: the job completed ${tookMs} ms after the SIGKILL`);
      expect(tookMs).toBeLessThan(45_000);
      const counts = sideEffectCounts(marks);
      expect([counts.get(`${job} 1`), counts.get(`${job} 2`), counts.get(`${job} 3`)]).toEqual([1, 2, 1]);
    } finally {
      await a.kill();
      await b.close();
      await a.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it("stops the step of a job cancelled through another replica within 1.5 s, and retries nothing", async () => {
    cluster.createDatabase("cancel");
    await storeInit(cluster.url("cancel"));
    const url = cluster.url("cancel");
    let attempts = 0;
    let aborted: (at: number) => void = () => undefined;
    const abortedAt = new Promise<number>((resolve) => {
      aborted = resolve;
    });
    let began: () => void = () => undefined;
    const running = new Promise<void>((resolve) => {
      began = resolve;
    });
    const hangs = defineAsyncTool({
      name: "hangs",
      description: "A step that runs until its signal aborts",
      input: z.object({ n: z.number() }),
      retry: { attempts: 4, initialDelayMs: 100 },
      run: async (ctx) =>
        ctx.run("hang", async () => {
          attempts += 1;
          began();
          await new Promise<void>((_resolve, reject) => {
            ctx.signal.addEventListener("abort", () => {
              aborted(performance.now());
              reject(new Error("aborted"));
            });
          });
        }),
    });
    await using a = await createAsyncTools({ store: url, tools: [hangs] });
    await using b = await createAsyncTools({ store: url, tools: [hangs] });
    const job = await a.start(hangs, { n: 1 });
    await running;
    const cancelled = await b.cancel(job.jobId);
    const answeredAt = performance.now();
    expect(cancelled.status).toBe("cancelled");
    expect((await abortedAt) - answeredAt).toBeLessThan(1_500);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(attempts).toBe(1);
    expect((await a.probe([job.jobId]))[0]?.status).toBe("cancelled");
  });

  it("removes finished jobs past retention, one replica at a time, and then probes say expired", async () => {
    cluster.createDatabase("retention");
    await storeInit(cluster.url("retention"));
    cluster.psql("CREATE ROLE keeper LOGIN IN ROLE resonate_worker", "retention");
    const url = cluster.url("retention", "keeper");
    let jobId: string;
    {
      await using first = await createAsyncTools({ store: url, tools: [twoSteps], retentionMs: 500 });
      const job = await first.start(twoSteps, { n: 1 });
      jobId = job.jobId;
      expect((await first.wait([jobId], { timeoutMs: 15_000 }))[0]?.status).toBe("completed");
      expect((await first.get(jobId)).steps).toHaveLength(2);
    }
    await new Promise((resolve) => setTimeout(resolve, 700));
    // While another replica's sweep holds the lock, a sweep does nothing and says so (-1).
    const holder = new pg.Client({ connectionString: url });
    const other = new pg.Client({ connectionString: url });
    await holder.connect();
    await other.connect();
    try {
      await holder.query("BEGIN");
      await holder.query("SELECT pg_advisory_xact_lock(hashtext('async_tools.retain'))");
      const skipped = await other.query("SELECT async_tools.retain(500, 0) AS removed");
      expect(Number(skipped.rows[0].removed)).toBe(-1);
      await holder.query("ROLLBACK");
    } finally {
      await holder.end();
      await other.end();
    }
    // The next replica sweeps at start.
    await using second = await createAsyncTools({ store: url, tools: [twoSteps], retentionMs: 500 });
    expect((await second.probe([jobId]))[0]?.status).toBe("expired");
    expect(
      cluster.psql(`SELECT count(*) FROM async_tools.steps WHERE job_id = '${jobId}'`, "retention").trim(),
    ).toBe("0");
    expect(
      cluster.psql(`SELECT count(*) FROM resonate.promises WHERE id = '${jobId}'`, "retention").trim(),
    ).toBe("0");
  });

  it("refuses a role without the worker's grants, naming the grant", async () => {
    cluster.createDatabase("guarded");
    await storeInit(cluster.url("guarded"));
    cluster.psql("CREATE ROLE stranger LOGIN", "guarded");
    const attempt = createAsyncTools({ store: cluster.url("guarded", "stranger"), tools: [twoSteps] });
    await expect(attempt).rejects.toMatchObject({
      code: "STORE_FORBIDDEN",
      message: expect.stringContaining("GRANT resonate_worker TO"),
    });
  });
});

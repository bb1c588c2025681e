/**
 * The Postgres store against a real PostgreSQL (Debian's server, a throwaway cluster on 127.0.0.1): the schema
 * is applied by `async-tools store init` (twice: the second applies nothing), a replica refuses a database that
 * was not initialised or a role without the grants, naming what to do, and jobs run under the least-privilege
 * worker role, and many concurrent jobs all answer their awaits. Skipped, in one line, where PostgreSQL cannot be
 * started.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { childEnv, sideEffectCounts, startStdioChild } from "@async-tools/test-helpers/children";
import { type PostgresCluster, postgresUnavailable, startPostgres } from "@async-tools/test-helpers/postgres";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { AsyncToolsError, createAsyncTools, defineAsyncTool } from "../src/index.ts";
import { internalsOf } from "../src/runtime/runtime.ts";
import { MIGRATIONS } from "../src/store/postgres/schema.ts";
import { postgresStoreInit, threeStepsTool } from "./helpers.ts";

const unavailable = postgresUnavailable();
if (unavailable !== undefined) console.warn(`postgres tests skipped: ${unavailable}`);

const CLI = join(import.meta.dirname, "..", "src", "cli", "main.ts");
const STEPS_SERVER = join(import.meta.dirname, "fixtures", "steps-server.ts");
const run = promisify(execFile);

const twoSteps = defineAsyncTool({
  name: "two_steps",
  description: "Adds one twice, in two durable steps",
  input: z.object({ n: z.number() }),
  run: async (ctx, { n }) => {
    const once = await ctx.run("first", async () => n + 1);
    return await ctx.run("second", async () => once + 1);
  },
});

/** For the many-jobs test: submitters at once, and how many jobs each starts and awaits one after another. */
const SUBMITTERS = 64;
const JOBS_EACH = 6;
/** Its lease: the SDK heartbeats every 1.5 s, all of the replica's running tasks in one request. */
const LEASE_MS = 3_000;
/** Its budget per job, generous for a loaded machine; a stalled batch held jobs far longer. */
const AWAIT_MS = 60_000;

const threeSteps = threeStepsTool(SUBMITTERS);

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
    const first = await postgresStoreInit(cluster.url("initdb"));
    expect(first.stdout).toContain(`applied ${MIGRATIONS.map((m) => m.id).join(", ")}`);
    const second = await postgresStoreInit(cluster.url("initdb"));
    expect(second.stdout).toContain("up to date");
    expect(
      cluster.psql("SELECT id FROM async_tools.migrations ORDER BY id", "initdb").trim().split("\n"),
    ).toEqual(MIGRATIONS.map((m) => m.id));
  });

  it("runs jobs under the least-privilege worker role, with one LISTEN connection per process", async () => {
    cluster.createDatabase("work");
    await postgresStoreInit(cluster.url("work"));
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

  it("follows the least-privilege guide: a non-superuser owner migrates, replicas run as a worker role that cannot migrate", async () => {
    // docs/scaling.md, "Least privilege", as a DBA runs it (roles are cluster-wide, so resonate_worker may exist).
    cluster.psql("CREATE ROLE jobs_owner LOGIN");
    cluster.psql("CREATE DATABASE jobs OWNER jobs_owner");
    cluster.psql(
      "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'resonate_worker') THEN CREATE ROLE resonate_worker NOLOGIN; END IF; END $$",
    );
    cluster.psql("CREATE ROLE jobs_app LOGIN IN ROLE resonate_worker");
    const init = await postgresStoreInit(cluster.url("jobs", "jobs_owner"));
    expect(init.stdout).toContain("applied");
    await expect(postgresStoreInit(cluster.url("jobs", "jobs_app"))).rejects.toThrow();
    await using runtime = await createAsyncTools({
      store: cluster.url("jobs", "jobs_app"),
      tools: [twoSteps],
    });
    const job = await runtime.start(twoSteps, { n: 1 });
    const [done] = await runtime.wait([job.jobId], { timeoutMs: 15_000 });
    expect(done).toMatchObject({ status: "completed", result: 3 });
    expect(cluster.psql("SELECT DISTINCT applied_by FROM async_tools.migrations", "jobs").trim()).toBe(
      "jobs_owner",
    );
  });

  it("opens the network's pool at the size set and names every connection with the application_name set", async () => {
    cluster.createDatabase("settings");
    await postgresStoreInit(cluster.url("settings"));
    await using runtime = await createAsyncTools({
      store: cluster.url("settings"),
      tools: [twoSteps],
      postgres: { poolSize: 1, tickMs: 100, applicationName: "weather-eu" },
    });
    const jobs = await Promise.all([1, 2, 3, 4].map((n) => runtime.start(twoSteps, { n })));
    const done = await runtime.wait(
      jobs.map((job) => job.jobId),
      { timeoutMs: 15_000 },
    );
    expect(done.map((job) => job.status)).toEqual(["completed", "completed", "completed", "completed"]);
    const names = cluster
      .psql(
        "SELECT application_name FROM pg_stat_activity WHERE datname = 'settings' AND pid <> pg_backend_pid()",
        "settings",
      )
      .trim()
      .split("\n");
    // One LISTEN connection, one of the network's pool, at most two of the job index's.
    expect(names.length).toBeGreaterThanOrEqual(2);
    expect(names.length).toBeLessThanOrEqual(4);
    expect(new Set(names)).toEqual(new Set(["weather-eu"]));
  });

  it("reads a job once per await: the listener's registration reads it, its end comes with the settled job", async () => {
    cluster.createDatabase("waits");
    await postgresStoreInit(cluster.url("waits"));
    // Long enough that the await starts before the job ends.
    const slow = defineAsyncTool({
      name: "slow",
      description: "One durable step of half a second",
      input: z.object({ n: z.number() }),
      run: (ctx, { n }) => ctx.run("nap", () => sleep(500).then(() => n + 1)),
    });
    await using here = await createAsyncTools({ store: cluster.url("waits"), tools: [slow] });
    await using elsewhere = await createAsyncTools({ store: cluster.url("waits"), tools: [] });
    for (const waiter of [here, elsewhere]) {
      const { network } = internalsOf(waiter).store;
      const send = network.send;
      const reads: string[] = [];
      network.send = ((request: { kind: string; data: { id?: string; awaited?: string } }) => {
        if (request.kind.startsWith("promise."))
          reads.push(`${request.kind} ${request.data.id ?? request.data.awaited}`);
        return send(request as never);
      }) as typeof send;
      const { jobId } = await here.start(slow, { n: waiter === here ? 1 : 2 });
      reads.length = 0;
      // A job run by this process settles its await with the answer to its last request; one run elsewhere
      // (the replica without tools) with the store's message to the listener.
      const [done] = await waiter.wait([jobId], { timeoutMs: 30_000 });
      expect(done).toMatchObject({ status: "completed", result: expect.any(Number) });
      expect(reads.filter((read) => read.endsWith(` ${jobId}`))).toEqual([
        `promise.register_listener ${jobId}`,
      ]);
      network.send = send;
    }
  });

  it("sends the requests its jobs make meanwhile together, one round trip and one commit, and answers each alone", async () => {
    cluster.createDatabase("batches");
    await postgresStoreInit(cluster.url("batches"));
    cluster.psql("ALTER DATABASE batches SET track_functions = 'pl'");
    await using runtime = await createAsyncTools({ store: cluster.url("batches"), tools: [twoSteps] });
    // What each batch's round trip carries: `pg` writes and parses an array parameter or column element by
    // element in JavaScript, JSON text with `JSON.parse`, so a batch goes and comes back as JSON.
    const batches: { text: string; values: unknown[] }[] = [];
    const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
    const query = proto.query;
    proto.query = function (this: unknown, ...args: unknown[]) {
      if (typeof args[0] === "string" && args[0].includes("rpc_batch"))
        batches.push({ text: args[0], values: args[1] as unknown[] });
      return query.apply(this, args);
    };
    const jobs = await Promise.all(Array.from({ length: 40 }, (_, n) => runtime.start(twoSteps, { n })));
    const done = await runtime
      .wait(
        jobs.map((job) => job.jobId),
        { timeoutMs: 60_000 },
      )
      .finally(() => {
        proto.query = query;
      });
    expect(batches.length).toBeGreaterThan(0);
    for (const batch of batches) {
      expect(batch.text).toMatch(/array_to_json\(async_tools\.rpc_batch\(/);
      expect(batch.values.filter((value) => Array.isArray(value))).toEqual([]);
    }
    expect(done.map((job) => job.status)).toEqual(Array(40).fill("completed"));
    expect(done.map((job) => job.result)).toEqual(Array.from({ length: 40 }, (_, n) => n + 2));
    await expect
      .poll(
        () =>
          Number(
            cluster.psql(
              "SELECT coalesce(sum(calls), 0) FROM pg_stat_user_functions WHERE funcname = 'rpc_batch'",
              "batches",
            ),
          ),
        { timeout: 10_000 },
      )
      .toBeGreaterThan(0);
    // A request that fails inside a batch answers an error of its own; the others take effect.
    const answers = cluster.psql(
      `SELECT a FROM unnest(async_tools.rpc_batch(ARRAY[
         '{"kind":"promise.get","head":{"corrId":"1","version":""},"data":{"id":"${jobs[0]?.jobId}"}}',
         '{"kind":"promise.create","head":{},"data":{"id":7}}']::jsonb[], 100)) AS a`,
      "batches",
    );
    const [first, second] = answers.trim().split("\n");
    expect(first).toContain('"status": 200');
    expect(second).not.toContain('"status": 200');
    // A request that would wait for a lock held elsewhere gives up at once and answers an error (its replica
    // sends it again alone), instead of holding the batch's locks while it waits.
    const holder = new pg.Client({ connectionString: cluster.url("batches") });
    await holder.connect();
    try {
      await holder.query("BEGIN");
      await holder.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [jobs[1]?.jobId]);
      const busy = cluster.psql(
        `SELECT a FROM unnest(async_tools.rpc_batch(ARRAY[
           '{"kind":"promise.get","head":{"corrId":"2","version":""},"data":{"id":"${jobs[0]?.jobId}"}}',
           '{"kind":"promise.register_listener","head":{"corrId":"3","version":""},"data":{"awaited":"${jobs[1]?.jobId}","address":"poll://uni@default/x"}}']::jsonb[], 100)) AS a`,
        "batches",
      );
      const [free, waited] = busy.trim().split("\n");
      expect(free).toContain('"status": 200');
      expect(JSON.parse(waited ?? "{}")).toHaveProperty("error");
    } finally {
      await holder.query("ROLLBACK");
      await holder.end();
    }
  });

  it("shows every job, its progress and its steps through every replica and the CLI", {
    timeout: 90_000,
  }, async () => {
    cluster.createDatabase("shared");
    await postgresStoreInit(cluster.url("shared"));
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
    await postgresStoreInit(cluster.url("takeover"));
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
      // A step's create on the job's first run waits in the replica for the step's settle; a long step's goes to
      // Postgres after DEFAULTS_POSTGRES.stepCreateHoldMs, and from then on the step log shows it running.
      await expect
        .poll(
          () =>
            cluster.psql(
              `SELECT outcome FROM async_tools.steps WHERE job_id = '${job}' AND name = 'two'`,
              "takeover",
            ),
          { timeout: 30_000 },
        )
        .toContain("running");
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
      // The step log says so too: the survivor's create of step two found the dead replica's attempt running.
      const steps = cluster.psql(
        `SELECT name, string_agg(outcome, ',' ORDER BY attempt) FROM async_tools.steps WHERE job_id = '${job}'
         GROUP BY name ORDER BY min(started_at)`,
        "takeover",
      );
      expect(steps.trim().split("\n")).toEqual([
        "one|succeeded",
        "two|interrupted,succeeded",
        "three|succeeded",
      ]);
    } finally {
      await a.kill();
      await b.close();
      await a.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it("finishes every job of three replicas when two of them are SIGKILLed in turn, and re-runs no finished step", async () => {
    cluster.createDatabase("three");
    await postgresStoreInit(cluster.url("three"));
    cluster.psql("CREATE ROLE three_worker LOGIN IN ROLE resonate_worker", "three");
    const dir = mkdtempSync(join(tmpdir(), "async-tools-pg-three-"));
    const marks = join(dir, "side-effects");
    writeFileSync(marks, "");
    const env = { ASYNC_TOOLS_STORE: cluster.url("three", "three_worker"), SIDE_EFFECTS: marks };
    // Jobs that reach step 2 on the first two hang there until their replica is killed; the third finishes them.
    const [a, b, c] = await Promise.all([
      startStdioChild(STEPS_SERVER, { env: { ...env, STEP2_MS: "600000" } }),
      startStdioChild(STEPS_SERVER, { env: { ...env, STEP2_MS: "600000" } }),
      startStdioChild(STEPS_SERVER, { env: { ...env, STEP2_MS: "50" } }),
    ]);
    try {
      const ids: string[] = [];
      for (const [i, replica] of [a, b, c, a, b, c].entries())
        ids.push((await replica.data<{ job_id: string }>("start_steps", { n: i })).job_id);
      await expect
        .poll(() => ids.every((id) => sideEffectCounts(marks).has(`${id} 2`)), { timeout: 30_000 })
        .toBe(true);
      a.kill();
      await expect
        .poll(
          async () => (await c.data<{ jobs: { status: string }[] }>("probe_steps", { job_ids: ids })).jobs,
          {
            timeout: 30_000,
            interval: 250,
          },
        )
        .toSatisfy(
          (jobs: { status: string }[]) => jobs.filter((job) => job.status === "completed").length >= 2,
        );
      b.kill();
      const done = await c.data<{ jobs: { status: string }[] }>("await_steps", {
        job_ids: ids,
        timeout_seconds: 45,
      });
      expect(done.jobs.map((job) => job.status)).toEqual(Array(6).fill("completed"));
      const counts = sideEffectCounts(marks);
      for (const id of ids) {
        // Step 1 finished before step 2 began, so no takeover runs it again; only the third replica ran step 3.
        expect(counts.get(`${id} 1`), `step 1 of ${id}`).toBe(1);
        expect(counts.get(`${id} 3`), `step 3 of ${id}`).toBe(1);
        expect(counts.get(`${id} 2`), `step 2 of ${id}`).toBeLessThanOrEqual(3);
      }
    } finally {
      for (const replica of [a, b, c]) {
        replica.kill();
        await replica.close();
      }
      rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);

  it("runs one job at a time across two processes with concurrency 1, places the waiting globally, and a SIGKILLed holder frees its slot", async () => {
    cluster.createDatabase("slots");
    await postgresStoreInit(cluster.url("slots"));
    const dir = mkdtempSync(join(tmpdir(), "async-tools-pg-slots-"));
    const marks = join(dir, "side-effects");
    writeFileSync(marks, "");
    const env = { ASYNC_TOOLS_STORE: cluster.url("slots"), SIDE_EFFECTS: marks, CONCURRENCY: "1" };
    const a = await startStdioChild(STEPS_SERVER, { env: { ...env, STEP2_MS: "600000" } });
    const b = await startStdioChild(STEPS_SERVER, { env: { ...env, STEP2_MS: "100" } });
    type Probed = { jobs: { job_id: string; status: string; queue_position?: number }[] };
    try {
      const holder = (await a.data<{ job_id: string }>("start_steps", { n: 1 })).job_id;
      await expect.poll(() => readFileSync(marks, "utf8"), { timeout: 30_000 }).toContain(`${holder} 2`);
      const second = (await b.data<{ job_id: string }>("start_steps", { n: 2 })).job_id;
      const third = (await b.data<{ job_id: string }>("start_steps", { n: 3 })).job_id;
      // Both wait behind the job running in the other process, in start order, seen alike through either.
      for (const replica of [b, a]) {
        await expect
          .poll(
            async () =>
              (await replica.data<Probed>("probe_steps", { job_ids: [second, third] })).jobs.map((j) => [
                j.status,
                j.queue_position,
              ]),
            { timeout: 20_000, interval: 200 },
          )
          .toEqual([
            ["queued", 1],
            ["queued", 2],
          ]);
      }
      expect(readFileSync(marks, "utf8")).not.toContain(second);
      a.kill();
      const done = await b.data<{ jobs: { status: string }[] }>("await_steps", {
        job_ids: [holder, second, third],
        timeout_seconds: 60,
      });
      expect(done.jobs.map((j) => j.status)).toEqual(["completed", "completed", "completed"]);
      // One job at a time: each execution's marks are one unbroken run.
      const runs: string[] = [];
      for (const line of readFileSync(marks, "utf8").trim().split("\n")) {
        const job = line.split(" ")[0] as string;
        if (runs.at(-1) !== job) runs.push(job);
      }
      expect(runs[0]).toBe(holder);
      expect(runs.filter((job) => job === second)).toHaveLength(1);
      expect(runs.filter((job) => job === third)).toHaveLength(1);
      expect(sideEffectCounts(marks).get(`${second} 3`)).toBe(1);
    } finally {
      a.kill();
      await b.close();
      await a.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);

  it("stops the step of a job cancelled through another replica within 1.5 s, and retries nothing", async () => {
    cluster.createDatabase("cancel");
    await postgresStoreInit(cluster.url("cancel"));
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
    await postgresStoreInit(cluster.url("retention"));
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
    await postgresStoreInit(cluster.url("guarded"));
    cluster.psql("CREATE ROLE stranger LOGIN", "guarded");
    const attempt = createAsyncTools({ store: cluster.url("guarded", "stranger"), tools: [twoSteps] });
    await expect(attempt).rejects.toMatchObject({
      code: "STORE_FORBIDDEN",
      message: expect.stringContaining("GRANT resonate_worker TO"),
    });
  });

  it("answers every await of many concurrent three-step jobs with the completed result", async () => {
    // Batched requests hold their locks until the batch commits; a heartbeat (every task of the replica) beside
    // steps' checkpoints used to deadlock with them and stall every job of both for over a minute. A short lease
    // makes the heartbeats frequent.
    cluster.createDatabase("many");
    await postgresStoreInit(cluster.url("many"));
    await using runtime = await createAsyncTools({
      store: cluster.url("many"),
      tools: [threeSteps],
      leaseMs: LEASE_MS,
    });
    const wrong = await Promise.all(
      Array.from({ length: SUBMITTERS }, async (_, submitter) => {
        for (let i = 0; i < JOBS_EACH; i++) {
          const n = submitter * JOBS_EACH + i;
          // A stalled store holds the start too: each job gets one budget for its start and its await.
          const outcome = await Promise.race([
            runtime.start(threeSteps, { n }).then(async (started) => {
              const job = await runtime.waitFor(threeSteps, started.jobId, AWAIT_MS);
              return job.status === "completed" && job.result?.total === 6 * n
                ? undefined
                : `${started.jobId}: ${job.status}`;
            }),
            sleep(AWAIT_MS + 5_000).then(() => `job ${n}: no answer in ${AWAIT_MS / 1000} s`),
          ]);
          // A submitter stops at its first wrong answer, so a failing run ends soon after it.
          if (outcome !== undefined) return outcome;
        }
        return undefined;
      }),
    );
    expect(wrong.filter((w) => w !== undefined)).toEqual([]);
  }, 300_000);
});

/**
 * The store's change feed, end to end: a reader that follows jobs (an await that returns on a question, a
 * `subscriptions/listen` stream, the check for cancels made elsewhere) reads the store when a followed job
 * changes, not on a timer, on one process and across the processes that share a store file (a joiner reaches
 * the owner over loopback HTTP) or a Postgres database (LISTEN/NOTIFY). Idle readers are measured by counting
 * their reads of the store.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { childEnv } from "@async-tools/test-helpers/children";
import { type PostgresCluster, postgresUnavailable, startPostgres } from "@async-tools/test-helpers/postgres";
import type { JSONRPCMessage } from "@modelcontextprotocol/server";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { AnyAsyncTool } from "../src/define.ts";
import { type AsyncTools, createAsyncTools, defineAsyncTool } from "../src/index.ts";
import { followTasks, taskListenOf } from "../src/mcp/v2/task-subscriptions.ts";
import { ExtensionTasks } from "../src/mcp/v2/tasks-extension.ts";
import { internalsOf } from "../src/runtime/runtime.ts";
import { CHANGES_CHANNEL } from "../src/store/postgres/postgres-changes.ts";
import type { JobChange } from "../src/store/store.ts";

const CLI = join(import.meta.dirname, "..", "src", "cli", "main.ts");
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** How long a reader is left idle: several times the half second the old readers polled at. */
const IDLE_MS = 4_000;

/** Jobs run to count the settled checks they cost. */
const SETTLED_JOBS = 24;
/**
 * Settled checks a job may cost: only a notice that may mean a settle (the job's own, which usually comes after
 * its pass ended here, or a cancel) and the recheck every `DEFAULTS.changeRecheckMs` ask; each creation and
 * progress notice asked too (about 2 a job).
 */
const SETTLED_CHECKS_PER_JOB = 0.25;

/** Gates a job holds at, by job input, opened by the test. */
const gates = new Map<string, () => void>();
function gate(key: string): Promise<void> {
  return new Promise((resolve) => gates.set(key, resolve));
}
async function open(key: string): Promise<void> {
  await expect.poll(() => gates.has(key), { timeout: 30_000 }).toBe(true);
  gates.get(key)?.();
}

/** Holds at its gate in a step, then asks for a confirmation, then finishes with the answer. */
const held = defineAsyncTool({
  name: "held",
  description: "Waits for the test, asks, finishes",
  input: z.object({ key: z.string() }),
  output: z.object({ ok: z.boolean() }),
  asks: true,
  run: async (ctx, { key }) => {
    await ctx.run("hold", () => gate(key));
    const answer = await ctx.ask("confirm", { message: "Go on?", schema: z.object({ ok: z.boolean() }) });
    return { ok: answer.action === "accept" && answer.content.ok };
  },
});

function storeFile(): string {
  const dir = mkdtempSync(join(tmpdir(), "async-tools-feed-"));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, "jobs.db");
}

async function runtimeOn(store: string, tools: AnyAsyncTool[] = [held]): Promise<AsyncTools> {
  const runtime = await createAsyncTools({ store, tools });
  cleanup.push(() => runtime.close());
  return runtime;
}

/** Reports progress, then returns its number after a step that takes a moment (its creation notice comes meanwhile). */
const stepped = defineAsyncTool({
  name: "stepped",
  description: "Reports progress and returns its number after one step",
  input: z.object({ n: z.number() }),
  run: async (ctx, { n }) => {
    ctx.progress(0.5, "halfway");
    return ctx.run("echo", async () => {
      await sleep(STEP_MS);
      return n;
    });
  },
});

/** Reports progress, asks once, and returns the answer. */
const asking = defineAsyncTool({
  name: "asking",
  description: "Reports progress, asks, finishes",
  input: z.object({ n: z.number() }),
  asks: true,
  run: async (ctx) => {
    ctx.progress(0.5, "asking");
    const answer = await ctx.ask("go", { message: "Go on?", schema: z.object({ go: z.boolean() }) });
    return answer.action;
  },
});

/** Starts a job of `asking` for `principal`, answers its question and waits for its end; returns its ID. */
async function askedAndAnswered(runtime: AsyncTools, principal: string): Promise<string> {
  const { jobId } = await runtime.start(asking, { n: 1 }, { principal });
  const [asked] = await runtime.wait([jobId], { timeoutMs: 60_000, principal });
  expect(asked?.status).toBe("input_required");
  const question = asked?.questions?.[0]?.id as string;
  await runtime.answer(jobId, { [question]: { action: "accept", content: { go: true } } }, { principal });
  const [done] = await runtime.wait([jobId], { timeoutMs: 60_000, principal });
  expect(done?.status).toBe("completed");
  return jobId;
}

/** How long `stepped`'s step takes: long enough for the notices of the job's creation and progress to arrive. */
const STEP_MS = 200;

/**
 * Runs `jobs` jobs of `stepped` on `runtime`, a few at a time, and returns how many jobs per job its check for
 * jobs settled elsewhere asked the store about meanwhile.
 */
async function settledChecksPerJob(runtime: AsyncTools, jobs: number): Promise<number> {
  const { store } = internalsOf(runtime);
  const settled = store.settled.bind(store);
  let asked = 0;
  store.settled = (ids) => {
    asked += ids.length;
    return settled(ids);
  };
  const AT_ONCE = 4;
  for (let first = 0; first < jobs; first += AT_ONCE) {
    const started = await Promise.all(
      Array.from({ length: Math.min(AT_ONCE, jobs - first) }, (_, i) =>
        runtime.start(stepped, { n: first + i }),
      ),
    );
    const done = await runtime.wait(
      started.map((s) => s.jobId),
      { timeoutMs: 120_000 },
    );
    expect(done.map((d) => d.status)).toEqual(started.map(() => "completed"));
  }
  return asked / jobs;
}

/** Counts the promise reads `runtime` makes of its store from now on. */
function countReads(runtime: AsyncTools): { readonly count: number } {
  const { promises } = internalsOf(runtime);
  const get = promises.get.bind(promises);
  const counter = { count: 0 };
  promises.get = (id) => {
    counter.count++;
    return get(id);
  };
  return counter;
}

/** A 2026-07-28 listen for `taskIds` with the Tasks extension declared. */
function listenFor(taskIds: string[]) {
  const listen = taskListenOf({
    jsonrpc: "2.0",
    id: 7,
    method: "subscriptions/listen",
    params: {
      notifications: { taskIds },
      _meta: {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {
          extensions: { "io.modelcontextprotocol/tasks": {} },
        },
      },
    },
  });
  if (listen === undefined) throw new Error("not a task listen");
  return listen;
}

/** Follows `taskId` over `runtime`, counting the task reads; `messages` is what the stream sent. */
function follow(runtime: AsyncTools, taskId: string) {
  const tasks = new ExtensionTasks(internalsOf(runtime).engine, new Map(), { retentionMs: 60_000 });
  const get = tasks.get.bind(tasks);
  const reads = { count: 0 };
  tasks.get = (id, caller) => {
    reads.count++;
    return get(id, caller);
  };
  const messages: JSONRPCMessage[] = [];
  const stop = new AbortController();
  cleanup.push(() => stop.abort());
  const done = followTasks(tasks, listenFor([taskId]), {}, async (m) => void messages.push(m), {
    signal: stop.signal,
  });
  const statuses = () =>
    messages
      .filter((m) => "method" in m && m.method === "notifications/tasks")
      .map((m) => (m as unknown as { params: { status: string } }).params.status);
  return { reads, messages, statuses, done };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe("readers of jobs on the change feed", () => {
  it("an await of a working job reads nothing while the job does not change, and returns when it asks", async () => {
    const runtime = await runtimeOn(storeFile());
    const { jobId } = await runtime.start(held, { key: "await-idle" });
    await expect.poll(() => gates.has("await-idle"), { timeout: 30_000 }).toBe(true);
    const reads = countReads(runtime);
    const [idle] = await runtime.wait([jobId], { timeoutMs: IDLE_MS });
    expect(idle?.status).toBe("working");
    // The wait's own reads of the job (its promise, its questions) at the start and at the end: 5, and none
    // in between (a poll every 500 ms made it 13).
    expect(reads.count).toBeLessThanOrEqual(6);
    const asking = runtime.wait([jobId], { timeoutMs: 120_000 });
    await open("await-idle");
    const [asked] = await asking;
    expect(asked?.status).toBe("input_required");
  });

  it("a subscriptions/listen stream reads an idle task once, then tells its question, its answer and its end", async () => {
    const runtime = await runtimeOn(storeFile());
    const { jobId } = await runtime.start(held, { key: "listen-idle" });
    await expect.poll(() => gates.has("listen-idle"), { timeout: 30_000 }).toBe(true);
    const stream = follow(runtime, jobId);
    await expect.poll(() => stream.statuses(), { timeout: 30_000 }).toEqual(["working"]);
    await sleep(IDLE_MS);
    expect(stream.reads.count).toBeLessThanOrEqual(2);
    await open("listen-idle");
    await expect.poll(() => stream.statuses(), { timeout: 30_000 }).toEqual(["working", "input_required"]);
    const [job] = await runtime.probe([jobId]);
    const question = job?.questions?.[0]?.id as string;
    expect(
      (await runtime.answer(jobId, { [question]: { action: "accept", content: { ok: true } } })).status,
    ).toBe("ok");
    await stream.done;
    expect(stream.statuses().at(-1)).toBe("completed");
    expect(stream.messages.at(-1)).toMatchObject({ id: 7, result: { resultType: "complete" } });
  });

  it("a process running jobs asks the store whether they settled for none of their creations and progress", async () => {
    const runtime = await runtimeOn(storeFile(), [stepped]);
    const perJob = await settledChecksPerJob(runtime, SETTLED_JOBS);
    process.stderr.write(`settled checks per job, SQLite: ${perJob}\n`);
    expect(perJob).toBeLessThanOrEqual(SETTLED_CHECKS_PER_JOB);
  });

  it("a process that joined a store file hears a question through the owner without polling for it", async () => {
    const file = storeFile();
    const owner = await runtimeOn(file);
    const joiner = await runtimeOn(file);
    expect(joiner.store.role).toBe("joiner");
    await followsAcross(owner, joiner, "joined");
  });
});

describe.skipIf(postgresUnavailable() !== undefined)(
  "readers of jobs on a Postgres store's change feed",
  () => {
    let cluster: PostgresCluster;
    beforeAll(async () => {
      cluster = await startPostgres();
      cluster.createDatabase("feed");
      await promisify(execFile)(
        process.execPath,
        ["--conditions=@async-tools/source", CLI, "store", "init", "--store", cluster.url("feed")],
        { env: childEnv() },
      );
    }, 120_000);
    afterAll(async () => {
      await cluster?.stop();
    });

    it("a replica hears a question asked through another replica without polling for it", async () => {
      const first = await runtimeOn(cluster.url("feed"));
      const second = await runtimeOn(cluster.url("feed"));
      await followsAcross(first, second, "postgres");
    });

    it("a replica running jobs asks the store whether they settled for none of their creations and progress", async () => {
      const runtime = await runtimeOn(cluster.url("feed"), [stepped]);
      const perJob = await settledChecksPerJob(runtime, SETTLED_JOBS);
      process.stderr.write(`settled checks per job, Postgres: ${perJob}\n`);
      expect(perJob).toBeLessThanOrEqual(SETTLED_CHECKS_PER_JOB);
    });

    it("tells in each notice what changed and whose job it is, leaving out a principal too large for NOTIFY", async () => {
      const runtime = await runtimeOn(cluster.url("feed"), [asking]);
      const listener = new pg.Client({ connectionString: cluster.url("feed") });
      await listener.connect();
      cleanup.push(() => listener.end());
      const heard: JobChange[] = [];
      listener.on("notification", (notice) => heard.push(JSON.parse(notice.payload ?? "")));
      await listener.query(`LISTEN ${CHANGES_CHANNEL}`);
      const of = (jobId: string) => heard.filter((change) => change.id === jobId);

      const alice = await askedAndAnswered(runtime, "alice");
      await expect.poll(() => of(alice).some((c) => c.what === "settled"), { timeout: 30_000 }).toBe(true);
      expect(new Set(of(alice).map((c) => c.what))).toEqual(
        new Set(["created", "question", "progress", "settled"]),
      );
      // A progress row written before the job's record does not know whose it is yet.
      for (const change of of(alice))
        if (change.what !== "progress" || change.principal !== undefined)
          expect(change.principal).toBe("alice");

      // Over NOTIFY's 8000 bytes with it: the notices go without it, and the job's requests still commit.
      const long = "p".repeat(9_000);
      const anyone = await askedAndAnswered(runtime, long);
      await expect.poll(() => of(anyone).some((c) => c.what === "settled"), { timeout: 30_000 }).toBe(true);
      expect(new Set(of(anyone).map((c) => c.what))).toEqual(
        new Set(["created", "question", "progress", "settled"]),
      );
      expect(of(anyone).filter((c) => c.principal !== undefined)).toEqual([]);
    });

    it("hears a notice of a job's ID alone (migration 0008's, before the upgrade) as any change of that job", async () => {
      const runtime = await runtimeOn(cluster.url("feed"));
      const heard: unknown[] = [];
      internalsOf(runtime).store.changes?.subscribe((changed) => heard.push(changed));
      cluster.psql(`SELECT pg_notify('${CHANGES_CHANNEL}', 'held-0123456789abcdef')`, "feed");
      await expect
        .poll(() => heard, { timeout: 30_000 })
        .toContainEqual([{ id: "held-0123456789abcdef", what: "changed" }]);
    });

    it("a replica whose LISTEN connection is killed opens another and hears changes again", async () => {
      const first = await runtimeOn(cluster.url("feed"));
      const second = await runtimeOn(cluster.url("feed"));
      const listening = () =>
        cluster
          .psql(
            "SELECT pid FROM pg_stat_activity WHERE datname = 'feed' AND query LIKE 'LISTEN%' ORDER BY pid",
          )
          .trim()
          .split("\n")
          .filter((line) => line !== "");
      await expect.poll(() => listening().length, { timeout: 30_000 }).toBeGreaterThanOrEqual(2);
      const killed = listening();
      cluster.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'");
      // Each replica opens a LISTEN connection of its own again, on a new backend.
      await expect
        .poll(() => listening().filter((pid) => !killed.includes(pid)).length, { timeout: 30_000 })
        .toBeGreaterThanOrEqual(killed.length);
      await followsAcross(first, second, "postgres-relisten");
    });
  },
);

/**
 * `first` starts a job that holds at gate `key`; `second` follows it with an await and a listen stream, reads
 * nothing while it is idle, and hears its question and its end.
 */
async function followsAcross(first: AsyncTools, second: AsyncTools, key: string): Promise<void> {
  const { jobId } = await first.start(held, { key });
  await expect.poll(() => gates.has(key), { timeout: 30_000 }).toBe(true);
  const reads = countReads(second);
  const stream = follow(second, jobId);
  await expect.poll(() => stream.statuses(), { timeout: 30_000 }).toEqual(["working"]);
  const [idle] = await second.wait([jobId], { timeoutMs: IDLE_MS });
  expect(idle?.status).toBe("working");
  // The stream's first reads and the wait's at its start and end (9); no poll while the job is idle.
  expect(reads.count).toBeLessThanOrEqual(12);
  const asking = second.wait([jobId], { timeoutMs: 120_000 });
  await open(key);
  expect((await asking)[0]?.status).toBe("input_required");
  await expect.poll(() => stream.statuses(), { timeout: 30_000 }).toEqual(["working", "input_required"]);
  const [job] = await second.probe([jobId]);
  const question = job?.questions?.[0]?.id as string;
  await second.answer(jobId, { [question]: { action: "accept", content: { ok: true } } });
  await stream.done;
  expect(stream.statuses().at(-1)).toBe("completed");
}

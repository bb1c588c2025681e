/**
 * A 2025-11-25 client that can be asked gets its jobs' questions even while it waits on nothing: real v1
 * Clients over stdio and stateful Streamable HTTP, with elicitation, sampling and roots handlers, against real
 * server processes on a SQLite file; a question goes to one session at a time, in one process or across two on
 * the store; a server SIGKILLed while its client thinks is restarted, and the next session's answer reaches the
 * job without a finished step running again. A session reads nothing for another principal's jobs, on a SQLite
 * file (owner and joiner) and on Postgres.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { childEnv, NODE_ARGS, sideEffectCounts } from "@async-tools/test-helpers/children";
import { type PostgresCluster, postgresUnavailable, startPostgres } from "@async-tools/test-helpers/postgres";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  type CallToolResult,
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { type AsyncTools, createAsyncTools, defineAsyncTool } from "../src/index.ts";
import { pushQuestions } from "../src/mcp/client-push.ts";
import { ClientQuestions } from "../src/mcp/client-questions.ts";
import { QuestionClaims } from "../src/mcp/question-claims.ts";
import type { JobEngine } from "../src/runtime/job-engine.ts";
import { internalsOf } from "../src/runtime/runtime.ts";
import { postgresStoreInit } from "./helpers.ts";
import { startPortServer } from "./port-server.ts";

const SERVER = join(import.meta.dirname, "fixtures", "ask-server.ts");
/** The same kind of asking job on the v2 face (`@modelcontextprotocol/server`), which serves 2025-11-25 too. */
const V2_SERVER = join(import.meta.dirname, "fixtures", "approval-server.ts");
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

function setup() {
  const dir = mkdtempSync(join(tmpdir(), "async-tools-push-"));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const sideEffects = join(dir, "effects.log");
  return {
    sideEffects,
    env: { ASYNC_TOOLS_STORE: `sqlite:${join(dir, "jobs.db")}`, SIDE_EFFECTS: sideEffects },
  };
}

/** A v1 Client that declared `capabilities`; the caller sets its request handlers before `connect`. */
function newClient(capabilities: Record<string, unknown>): Client {
  const client = new Client({ name: "push-test", version: "0" }, { capabilities });
  cleanup.push(() => client.close().catch(() => undefined));
  return client;
}

/** Connects `client` to a new stdio server process (`script`) on `env`; returns the server's pid. */
async function overStdio(client: Client, env: Record<string, string>, script = SERVER): Promise<number> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [...NODE_ARGS, script],
    env: childEnv(env),
    stderr: "pipe",
  });
  transport.stderr?.on("data", () => undefined);
  await client.connect(transport);
  return transport.pid as number;
}

async function data<T>(client: Client, name: string, args: Record<string, unknown>): Promise<T> {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  if (result.isError) throw new Error(JSON.stringify(result.content));
  return result.structuredContent as T;
}

interface Job {
  job_id: string;
  status: string;
  result?: unknown;
}

/** Probes (never awaits: a probe asks nothing) the job until it is completed; then its result. */
async function completed(client: Client, tool: string, jobId: string): Promise<unknown> {
  await expect
    .poll(
      async () =>
        (await data<{ jobs: Job[] }>(client, `probe_${tool}`, { job_ids: [jobId] })).jobs[0]?.status,
      { timeout: 60_000, interval: 200 },
    )
    .toBe("completed");
  const done = await data<{ jobs: Job[] }>(client, `await_${tool}`, { job_ids: [jobId], timeout_seconds: 1 });
  return done.jobs[0]?.result;
}

/** Each of `steps` of `jobId` ran exactly once, whatever restarts happened. */
function expectRanOnce(sideEffects: string, jobId: string, ...steps: string[]): void {
  const seen = sideEffectCounts(sideEffects);
  for (const step of steps) expect(seen.get(`${jobId} ${step}`), step).toBe(1);
}

/** A promise, its resolver, and `reached()`: the promise, or a failure naming `what` after a minute. */
function signal<T = void>(what: string) {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  const reached = () =>
    Promise.race([
      promise,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`${what} did not happen within 60 s`)), 60_000).unref(),
      ),
    ]);
  return { promise, resolve, reached };
}

/**
 * Connects two idle clients with elicitation (`connect` each), starts a job through the second, and checks the
 * question goes to one of them only, while it thinks and after it answered.
 */
async function askedOfOneOnly(sideEffects: string, connect: (client: Client) => Promise<unknown>) {
  const asked: string[] = [];
  const first = signal("the question reaching one of the idle clients");
  const release = signal("release");
  const clients: Client[] = [];
  for (const name of ["one", "two"]) {
    const client = newClient({ elicitation: {} });
    client.setRequestHandler(ElicitRequestSchema, async () => {
      asked.push(name);
      first.resolve();
      await release.promise;
      return { action: "accept", content: { place: true, note: `by ${name}` } };
    });
    await connect(client);
    clients.push(client);
  }
  const [one, two] = clients as [Client, Client];
  const { job_id } = await data<{ job_id: string }>(two, "start_approve", { items: 3 });

  await first.reached();
  // Both sessions belong to the job's principal (none) and look every second: give the other a few looks.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  expect(asked).toHaveLength(1);
  release.resolve();
  expect(await completed(one, "approve", job_id)).toEqual({ placed: true, note: `by ${asked[0]}` });
  expect(asked).toHaveLength(1);
  expectRanOnce(sideEffects, job_id, "price", "placed");
}

describe("a client that waits on nothing is asked its jobs' questions", () => {
  it("over stdio: the elicitation reaches the client that started the job and went idle", async () => {
    const { sideEffects, env } = setup();
    const client = newClient({ elicitation: { form: {} } });
    const asked: string[] = [];
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      asked.push(String(request.params.message));
      return { action: "accept", content: { place: true, note: "while idle" } };
    });
    await overStdio(client, env);
    const { job_id } = await data<{ job_id: string }>(client, "start_approve", { items: 2 });

    expect(await completed(client, "approve", job_id)).toEqual({ placed: true, note: "while idle" });
    expect(asked).toEqual(["Placing this order costs $14. Place it?"]);
    expectRanOnce(sideEffects, job_id, "price", "placed");
  });

  it("over stateful Streamable HTTP: the session's GET stream carries the elicitation, to one session only", async () => {
    const { sideEffects, env } = setup();
    const { url } = await startPortServer(SERVER, { ...env, ASK_HTTP: "1" });
    await askedOfOneOnly(sideEffects, (client) => client.connect(new StreamableHTTPClientTransport(url)));
  });

  it("across processes on one store: two idle clients, one question, asked of one of them only", async () => {
    const { sideEffects, env } = setup();
    // Each client starts its own server process; the second joins the store the first one owns.
    await askedOfOneOnly(sideEffects, (client) => overStdio(client, env));
  });

  it("sampling: a SIGKILL while the client thinks, and the restarted server's new session answers", async () => {
    const { sideEffects, env } = setup();
    const thinking = signal("the question reaching the idle client");
    const first = newClient({ sampling: {} });
    first.setRequestHandler(CreateMessageRequestSchema, async () => {
      thinking.resolve();
      return new Promise(() => undefined);
    });
    const pid = await overStdio(first, env);
    const { job_id } = await data<{ job_id: string }>(first, "start_summarize", {
      text: "durable jobs ask and wait",
    });
    await thinking.reached();
    process.kill(pid, "SIGKILL");

    const asked: unknown[] = [];
    const second = newClient({ sampling: {} });
    second.setRequestHandler(CreateMessageRequestSchema, async (request) => {
      asked.push(request.params.messages);
      return { role: "assistant", content: { type: "text", text: "Jobs wait." }, model: "test-model" };
    });
    await overStdio(second, env);
    expect(await completed(second, "summarize", job_id)).toEqual({
      summary: "Jobs wait.",
      model: "test-model",
    });
    expect(asked).toEqual([
      [
        {
          role: "user",
          content: { type: "text", text: "Summarize in one line (5 words): durable jobs ask and wait" },
        },
      ],
    ]);
    expectRanOnce(sideEffects, job_id, "read", "filed");
  });

  it("roots: a SIGKILL while the client thinks, and the restarted server's new session answers", async () => {
    const { sideEffects, env } = setup();
    const thinking = signal("the question reaching the idle client");
    const first = newClient({ roots: { listChanged: true } });
    first.setRequestHandler(ListRootsRequestSchema, async () => {
      thinking.resolve();
      return new Promise(() => undefined);
    });
    const pid = await overStdio(first, env);
    const { job_id } = await data<{ job_id: string }>(first, "start_scan_roots", { depth: 2 });
    await thinking.reached();
    process.kill(pid, "SIGKILL");

    const second = newClient({ roots: {} });
    second.setRequestHandler(ListRootsRequestSchema, async () => ({
      roots: [{ uri: "file:///work/a", name: "a" }, { uri: "file:///work/b" }],
    }));
    await overStdio(second, env);
    expect(await completed(second, "scan_roots", job_id)).toEqual({
      scanned: ["file:///work/a", "file:///work/b"],
    });
    expectRanOnce(sideEffects, job_id, "prepared", "scanned");
  });

  it("on the v2 face: a 2025-11-25 client over stdio is asked while idle, like on the v1 face", async () => {
    const { sideEffects: log, env } = setup();
    const client = newClient({ elicitation: {} });
    const asked: string[] = [];
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      asked.push(String(request.params.message));
      return { action: "accept", content: { proceed: true, approver: "idle v1 client" } };
    });
    await overStdio(client, { ...env, APPROVAL_LOG: log }, V2_SERVER);
    const { job_id } = await data<{ job_id: string }>(client, "start_approve_spend", { amount: 30 });

    expect(await completed(client, "approve_spend", job_id)).toEqual({
      amount: 30,
      spent: true,
      approver: "idle v1 client",
    });
    expect(asked).toEqual(["This costs $30. Go ahead?"]);
    expectRanOnce(log, job_id, "quote", "spend");
  });

  it("on the v2 face: a 2025-11-25 session over stateful Streamable HTTP is asked on its GET stream", async () => {
    const { sideEffects: log, env } = setup();
    const { url } = await startPortServer(V2_SERVER, {
      ...env,
      APPROVAL_LOG: log,
      APPROVAL_HTTP: "1",
      APPROVAL_STATEFUL: "1",
    });
    const client = newClient({ elicitation: {} });
    client.setRequestHandler(ElicitRequestSchema, async () => ({
      action: "accept",
      content: { proceed: false, approver: "http session" },
    }));
    await client.connect(new StreamableHTTPClientTransport(url));
    const { job_id } = await data<{ job_id: string }>(client, "start_approve_spend", { amount: 8 });

    expect(await completed(client, "approve_spend", job_id)).toEqual({
      amount: 8,
      spent: false,
      approver: "http session",
    });
    expectRanOnce(log, job_id, "quote", "spend");
  });
});

const quick = defineAsyncTool({
  name: "quick",
  description: "Returns its number after one step",
  input: z.object({ n: z.number() }),
  run: (ctx, { n }) => ctx.run("echo", () => n),
});
const confirm = defineAsyncTool({
  name: "confirm",
  description: "Asks whether to go on",
  input: z.object({ n: z.number() }),
  asks: true,
  run: async (ctx, { n }) => {
    const answer = await ctx.ask("go", {
      message: `Go on with ${n}?`,
      schema: z.object({ go: z.boolean() }),
    });
    return answer.action;
  },
});

/**
 * `engine` as one session sees it, with every call it makes to the store's promises and job index counted in
 * `reads` (by method) once it is answered.
 */
function countingReads(engine: JobEngine): { engine: JobEngine; reads: string[] } {
  const reads: string[] = [];
  const counted = <T extends object>(target: T, name: string): T =>
    new Proxy(target, {
      get(object, key) {
        const value = Reflect.get(object, key);
        if (typeof value !== "function") return value;
        // A store read returns a promise; the sync helpers (a record's value, its param) read nothing.
        return (...args: unknown[]) => {
          const result = value.apply(object, args);
          if (!(result instanceof Promise)) return result;
          return result.finally(() => reads.push(`${name}.${String(key)}`));
        };
      },
    });
  const meta = counted(engine.meta, "meta");
  const promises = counted(engine.promises, "promises");
  const session = new Proxy(engine, {
    get(object, key) {
      if (key === "meta") return meta;
      if (key === "promises") return promises;
      const value = Reflect.get(object, key);
      return typeof value === "function" ? value.bind(object) : value;
    },
  });
  return { engine: session, reads };
}

/**
 * Two sessions of alice on `sessions` follow her jobs while bob's jobs come and go through `sessions` and `other`
 * (a second process of the store): no store read for any of bob's, since each notice of the change feed says
 * whose job changed; then alice's job started through `other` is asked of one session, once.
 */
async function followsOnlyAlice(sessions: AsyncTools, other: AsyncTools): Promise<void> {
  const { engine, promises } = internalsOf(sessions);
  const claims = new QuestionClaims(promises);
  const closed = new AbortController();
  cleanup.push(() => closed.abort());
  const asked: string[] = [];
  const counts = ["one", "two"].map((name) => {
    const { engine: seen, reads } = countingReads(engine);
    const asker = new ClientQuestions(
      engine,
      claims,
      async (question) => {
        asked.push(`${name} ${question.id}`);
        return { action: "accept", content: { go: true } };
      },
      { principal: "alice" },
    );
    // No recheck of everything within the test: each read counted is one a change notice caused.
    pushQuestions(
      seen,
      asker,
      { principal: "alice" },
      {
        signal: closed.signal,
        canSend: () => true,
        recheckMs: 600_000,
      },
    );
    return reads;
  });
  // Each session's first round reads its principal's jobs once.
  await expect
    .poll(() => counts.every((reads) => reads.includes("meta.list")), { timeout: 30_000 })
    .toBe(true);
  for (const reads of counts) reads.length = 0;

  const JOBS = 10;
  // One after the other, as other people's jobs come and go: each is a change of its own.
  for (const [i, runtime] of [sessions, other].entries()) {
    for (let n = i * JOBS; n < (i + 1) * JOBS; n++) {
      const { jobId, created } = await runtime.start(quick, { n }, { principal: "bob" });
      expect(created).toBe(true);
      const [done] = await runtime.wait([jobId], { timeoutMs: 60_000, principal: "bob" });
      expect(done?.status).toBe("completed");
    }
  }
  const foreign = counts.map((reads) => reads.length);
  process.stderr.write(`store reads per session while bob's ${2 * JOBS} jobs changed: ${foreign}\n`);
  expect(foreign).toEqual([0, 0]);

  const { jobId } = await other.start(confirm, { n: 1 }, { principal: "alice" });
  // A wait returns when the job asks; the session answers it, and then the job completes.
  await expect
    .poll(async () => (await sessions.probe([jobId], { principal: "alice" }))[0]?.status, { timeout: 60_000 })
    .toBe("completed");
  const [finished] = await sessions.wait([jobId], { timeoutMs: 60_000, principal: "alice" });
  expect(finished?.result).toBe("accept");
  expect(asked).toHaveLength(1);
  expect(asked[0]).toMatch(new RegExp(`^(one|two) ${jobId}/go$`));
}

describe("an idle session follows only its principal's jobs", () => {
  function storeFile(): string {
    const dir = mkdtempSync(join(tmpdir(), "async-tools-push-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    return `sqlite:${join(dir, "jobs.db")}`;
  }

  it("reads the store for none of another principal's job changes, and still asks its own job's question", async () => {
    const store = storeFile();
    await using owner = await createAsyncTools({ name: "push", store, tools: [quick, confirm] });
    // A second process of the store, in this one: its jobs reach the first only through the change feed.
    await using joiner = await createAsyncTools({ name: "push", store, tools: [quick, confirm] });
    expect(internalsOf(joiner).store.role).toBe("joiner");
    await followsOnlyAlice(owner, joiner);
  });

  it("reads none of them either in a process that joined the store file (the owner relays whose job changed)", async () => {
    const store = storeFile();
    await using owner = await createAsyncTools({ name: "push", store, tools: [quick, confirm] });
    await using joiner = await createAsyncTools({ name: "push", store, tools: [quick, confirm] });
    expect(internalsOf(joiner).store.role).toBe("joiner");
    await followsOnlyAlice(joiner, owner);
  });

  describe.skipIf(postgresUnavailable() !== undefined)("on a Postgres store", () => {
    let cluster: PostgresCluster;
    beforeAll(async () => {
      cluster = await startPostgres();
      cluster.createDatabase("push");
      await postgresStoreInit(cluster.url("push"));
    }, 120_000);
    afterAll(async () => {
      await cluster?.stop();
    });

    it("reads none of them on a replica, whichever replica changed them (the notice says whose job it is)", async () => {
      const store = cluster.url("push");
      await using first = await createAsyncTools({ name: "push", store, tools: [quick, confirm] });
      await using second = await createAsyncTools({ name: "push", store, tools: [quick, confirm] });
      await followsOnlyAlice(first, second);
    });
  });
});

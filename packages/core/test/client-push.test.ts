/**
 * A 2025-11-25 client that can be asked gets its jobs' questions even while it waits on nothing: real v1
 * Clients over stdio and stateful Streamable HTTP, with elicitation, sampling and roots handlers, against real
 * server processes on a SQLite file; a question goes to one session at a time, in one process or across two on
 * the store; a server SIGKILLed while its client thinks is restarted, and the next session's answer reaches the
 * job without a finished step running again.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { childEnv, NODE_ARGS, sideEffectCounts } from "@async-tools/test-helpers/children";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  type CallToolResult,
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
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

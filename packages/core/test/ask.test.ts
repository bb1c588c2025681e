/**
 * Durable questions with real processes: a job asks, its server is SIGKILLed, and the answer comes through
 * another process (the CLI, a restarted server's respond tool, a client with elicitation); the job finishes
 * with that answer and no finished step runs again.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { childEnv, sideEffectCounts, startStdioChild } from "@async-tools/test-helpers/children";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { type CallToolResult, ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";

const SERVER = join(import.meta.dirname, "fixtures", "ask-server.ts");
const BIN = join(import.meta.dirname, "..", "src", "cli", "main.ts");
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

interface Job {
  job_id: string;
  status: string;
  questions?: { id: string; kind: string; request: { message: string } }[];
  result?: { placed: boolean; note: string };
}

function setup() {
  const dir = mkdtempSync(join(tmpdir(), "async-tools-ask-"));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const sideEffects = join(dir, "effects.log");
  const store = `sqlite:${join(dir, "jobs.db")}`;
  return { sideEffects, store, env: { ASYNC_TOOLS_STORE: store, SIDE_EFFECTS: sideEffects } };
}

async function server(env: Record<string, string>) {
  const child = await startStdioChild(SERVER, { env });
  cleanup.push(() => {
    child.kill();
    return child.close();
  });
  return child;
}

/** Awaits the job `jobId` through `child` until it is in `status`. */
async function awaitStatus(
  child: Awaited<ReturnType<typeof server>>,
  jobId: string,
  status: string,
): Promise<Job> {
  let job: Job | undefined;
  await expect
    .poll(
      async () => {
        job = (await child.data<{ jobs: Job[] }>("await_approve", { job_ids: [jobId], timeout_seconds: 10 }))
          .jobs[0];
        return job?.status;
      },
      { timeout: 60_000 },
    )
    .toBe(status);
  return job as Job;
}

/** Starts a job and waits until it asks; returns its ID and question. */
async function startAsking(child: Awaited<ReturnType<typeof server>>, items: number) {
  const { job_id } = await child.data<{ job_id: string }>("start_approve", { items });
  const job = await awaitStatus(child, job_id, "input_required");
  return { jobId: job_id, question: job.questions?.[0] as NonNullable<Job["questions"]>[number] };
}

function cli(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, ["--conditions=@async-tools/source", BIN, ...args], {
    env: childEnv(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    err += chunk.toString();
  });
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, out, err })));
}

/** Each of `steps` of `jobId` ran exactly once, whatever restarts happened. */
function expectRanOnce(sideEffects: string, jobId: string, ...steps: string[]): void {
  const seen = sideEffectCounts(sideEffects);
  for (const step of steps) expect(seen.get(`${jobId} ${step}`), step).toBe(1);
}

describe("a job that asks, across processes", () => {
  it("survives a SIGKILL while it waits and takes the answer the CLI gives through the running store", async () => {
    const { sideEffects, store, env } = setup();
    const first = await server(env);
    const { jobId, question } = await startAsking(first, 3);
    expect(question).toMatchObject({ id: `${jobId}/confirm`, kind: "elicitation" });
    expect(question.request.message).toBe("Placing this order costs $21. Place it?");
    first.kill();

    const second = await server(env);
    const [probed] = (await second.data<{ jobs: Job[] }>("probe_approve", { job_ids: [jobId] })).jobs;
    expect(probed).toMatchObject({ status: "input_required", questions: [{ id: question.id }] });

    const answer = (json: unknown) =>
      cli(["jobs", "answer", jobId, "--store", store, "--json", JSON.stringify(json)]);
    const refused = await answer({ action: "accept", content: { place: 1 } });
    expect(refused.code).not.toBe(0);
    expect(refused.err).toContain("place must be true or false");
    const answered = await answer({
      [question.id]: { action: "accept", content: { place: true, note: "by cli" } },
    });
    expect(answered).toMatchObject({ code: 0 });
    expect(answered.out).toContain(`Answered ${question.id}`);

    expect((await awaitStatus(second, jobId, "completed")).result).toEqual({ placed: true, note: "by cli" });
    expectRanOnce(sideEffects, jobId, "price", "placed");
  });

  it("takes an answer through the respond tool of a restarted server", async () => {
    const { sideEffects, env } = setup();
    const first = await server(env);
    const { jobId, question } = await startAsking(first, 2);
    const hint = (await first.call("probe_approve", { job_ids: [jobId] })) as CallToolResult;
    expect((hint.content[0] as { text: string }).text).toContain(
      `call respond_approve with {"job_id": "${jobId}", "question_id": "${question.id}"`,
    );
    first.kill();

    const second = await server(env);
    const wrong = await second.call("respond_approve", { job_id: jobId, answer: { action: "maybe" } });
    expect(wrong.isError).toBe(true);
    expect((wrong.content[0] as { text: string }).text).toContain(
      'action must be "accept", "decline" or "cancel"',
    );
    const ok = await second.call("respond_approve", { job_id: jobId, answer: { action: "decline" } });
    expect(ok.isError).toBeFalsy();
    expect((await awaitStatus(second, jobId, "completed")).result).toEqual({
      placed: false,
      note: "decline",
    });
    expectRanOnce(sideEffects, jobId, "price", "skipped");
  });

  it("asks a 2025-11-25 client with elicitation itself, again after a restart, and delivers its answer", async () => {
    const { sideEffects, env } = setup();
    const first = await server(env);
    const { jobId } = await startAsking(first, 5);
    first.kill();

    const transport = new StdioClientTransport({
      command: process.execPath,
      args: ["--conditions=@async-tools/source", SERVER],
      env: childEnv({ ...env, ASYNC_TOOLS_LOG: "info" }),
      stderr: "pipe",
    });
    const client = new Client(
      { name: "eliciting", version: "0" },
      { capabilities: { elicitation: { form: {} } } },
    );
    const asked: { message: string; requestedSchema: unknown }[] = [];
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      const params = request.params as { message: string; requestedSchema: unknown };
      asked.push(params);
      return { action: "accept", content: { place: true, note: "from the form" } };
    });
    await client.connect(transport);
    cleanup.push(() => client.close().catch(() => undefined));
    let job: Job | undefined;
    await expect
      .poll(
        async () => {
          const result = (await client.callTool({
            name: "await_approve",
            arguments: { job_ids: [jobId], timeout_seconds: 10 },
          })) as CallToolResult;
          job = (result.structuredContent as { jobs: Job[] }).jobs[0];
          return job?.status;
        },
        { timeout: 60_000 },
      )
      .toBe("completed");
    expect(job?.result).toEqual({ placed: true, note: "from the form" });
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatchObject({
      message: "Placing this order costs $35. Place it?",
      requestedSchema: { type: "object", properties: { place: { type: "boolean" } }, required: ["place"] },
    });
    expectRanOnce(sideEffects, jobId, "price", "placed");
  });
});

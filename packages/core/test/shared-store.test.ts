/**
 * Several processes on one store file: the first owns and serves it, the others join it. In-process pairs
 * check the sharing itself; child processes with real SIGKILLs check the takeover.
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createAsyncTools, defineAsyncTool } from "../src/index.ts";
import { readServeFile, serveFilePath } from "../src/store/shared/serve-file.ts";

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

function tempStore(): string {
  const dir = mkdtempSync(join(tmpdir(), "async-tools-shared-"));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, "jobs.db");
}

let executions = 0;
const square = defineAsyncTool({
  name: "square",
  description: "Squares n after a pause",
  input: z.object({ n: z.number(), ms: z.number().default(50) }),
  output: z.object({ square: z.number() }),
  run: async (ctx, { n, ms }) => {
    const value = await ctx.run("square", async () => {
      executions++;
      await new Promise((resolve) => setTimeout(resolve, ms));
      return n * n;
    });
    ctx.progress(0.5, "halfway");
    return { square: value };
  },
});

async function open(path: string) {
  const tools = await createAsyncTools({ store: path, tools: [square] });
  cleanup.push(() => tools.close());
  return tools;
}

describe("one store file, two processes", () => {
  it("lets the second process join instead of failing, and both run jobs", async () => {
    const path = tempStore();
    const owner = await open(path);
    const joiner = await open(path);
    expect([owner.store.role, joiner.store.role]).toEqual(["owner", "joiner"]);
    const a = await joiner.start(square, { n: 3 });
    const b = await owner.start(square, { n: 4 });
    expect((await owner.waitFor(square, a.jobId, 10_000)).result).toEqual({ square: 9 });
    expect((await joiner.waitFor(square, b.jobId, 10_000)).result).toEqual({ square: 16 });
  });

  it("gives the same arguments from two processes one job and one execution", async () => {
    const path = tempStore();
    const owner = await open(path);
    const joiner = await open(path);
    executions = 0;
    const [x, y] = await Promise.all([
      owner.start(square, { n: 5, ms: 200 }),
      joiner.start(square, { n: 5, ms: 200 }),
    ]);
    expect(x.jobId).toBe(y.jobId);
    expect([x.created, y.created].filter(Boolean)).toHaveLength(1);
    await joiner.waitFor(square, x.jobId, 10_000);
    expect(executions).toBe(1);
  });

  it("shares progress and metadata: a job started by one process shows its progress in the other", async () => {
    const path = tempStore();
    const owner = await open(path);
    const joiner = await open(path);
    const job = await owner.start(square, { n: 6 });
    await owner.waitFor(square, job.jobId, 10_000);
    const [seen] = await joiner.probe([job.jobId]);
    expect(seen?.tool).toBe("square");
    expect(seen?.progress?.fraction).toBe(1);
    const other = await joiner.start(square, { n: 7, ms: 2000 });
    await expect.poll(async () => (await owner.probe([other.jobId]))[0]?.status).toBe("working");
    await expect.poll(async () => (await owner.probe([other.jobId]))[0]?.tool).toBe("square");
  });

  it("hands the store to a joiner when the owner exits, and the joiner's own job runs on, once", async () => {
    const path = tempStore();
    const owner = await open(path);
    const joiner = await open(path);
    executions = 0;
    const job = await joiner.start(square, { n: 8, ms: 1500 });
    await owner.close();
    await expect.poll(() => joiner.store.role).toBe("owner");
    const late = await open(path);
    expect(late.store.role).toBe("joiner");
    expect((await late.waitFor(square, job.jobId, 10_000)).result).toEqual({ square: 64 });
    expect(executions).toBe(1);
    const after = await late.start(square, { n: 9 });
    expect((await joiner.waitFor(square, after.jobId, 10_000)).result).toEqual({ square: 81 });
  });

  it("keeps one step log: a joiner's attempts go to the owner's file, and on to it after a takeover", async () => {
    const path = tempStore();
    const owner = await open(path);
    const joiner = await open(path);
    const stepsOf = async (tools: typeof owner, id: string) =>
      (await tools.get(id)).steps.map(
        (step) => `${step.name}:${step.attempts.map((a) => a.outcome).join(",")}`,
      );
    // Run by the joiner (work goes to the process that started it), recorded in the owner's file.
    const first = await joiner.start(square, { n: 2 });
    await joiner.waitFor(square, first.jobId, 10_000);
    await expect.poll(() => stepsOf(owner, first.jobId)).toEqual(["square:succeeded"]);
    expect(await stepsOf(joiner, first.jobId)).toEqual(["square:succeeded"]);
    await owner.close();
    await expect.poll(() => joiner.store.role).toBe("owner");
    const second = await joiner.start(square, { n: 5 });
    await joiner.waitFor(square, second.jobId, 10_000);
    const late = await open(path);
    expect(late.store.role).toBe("joiner");
    expect(await stepsOf(late, first.jobId)).toEqual(["square:succeeded"]);
    expect(await stepsOf(late, second.jobId)).toEqual(["square:succeeded"]);
  });

  it("keeps the token file beside the store readable by its user only, and refuses requests without it", async () => {
    const path = tempStore();
    await open(path);
    expect(statSync(serveFilePath(path)).mode & 0o777).toBe(0o600);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(`${path}-wal`).mode & 0o777).toBe(0o600);
    const info = readServeFile(path);
    expect(info?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const body = JSON.stringify({
      kind: "promise.get",
      head: { corrId: "c", version: "" },
      data: { id: "x" },
    });
    const without = await fetch(info?.url as string, { method: "POST", body });
    expect(without.status).toBe(401);
    const wrong = await fetch(info?.url as string, {
      method: "POST",
      body,
      headers: { Authorization: "Bearer nope" },
    });
    expect(wrong.status).toBe(401);
    const poll = await fetch(`${info?.url}/poll/default/x`);
    expect(poll.status).toBe(401);
    const right = await fetch(info?.url as string, {
      method: "POST",
      body,
      headers: { Authorization: `Bearer ${info?.token}` },
    });
    expect(right.status).toBe(404);
    const reset = await fetch(info?.url as string, {
      method: "POST",
      body: JSON.stringify({ kind: "debug.reset", head: { corrId: "c", version: "" }, data: {} }),
      headers: { Authorization: `Bearer ${info?.token}` },
    });
    expect(reset.status).toBe(403);
  });
});

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { structured } from "@async-tools/test-helpers/mcp";
import { CallToolResultSchema, type Task } from "@modelcontextprotocol/sdk/types.js";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { autoClosing, brokenTool, type Connected, connect, gate } from "../../../test/helpers.ts";
import { defineAsyncTool } from "../../index.ts";

const serve = autoClosing();

const DAY = 24 * 60 * 60 * 1000;

function holdTool(counter: { runs: number }, hold: Promise<void>) {
  return defineAsyncTool({
    name: "hold",
    description: "Waits for a gate",
    input: z.object({ n: z.number() }),
    output: z.object({ n: z.number() }),
    run: async (ctx, { n }) => {
      await ctx.run("wait", async () => {
        counter.runs += 1;
        ctx.progress(0.5, "computing");
        await hold;
      });
      return { n };
    },
  });
}

const echo = defineAsyncTool({
  name: "echo",
  description: "Answers at once",
  input: z.object({ n: z.number() }),
  run: async (_ctx, { n }) => ({ n }),
});

async function createTask(c: Connected, name: string, args: Record<string, unknown>): Promise<Task> {
  const stream = c.client.experimental.tasks.callToolStream({ name, arguments: args }, CallToolResultSchema, {
    task: {},
  });
  for await (const message of stream) {
    if (message.type === "taskCreated") return message.task;
    if (message.type === "error") throw message.error;
  }
  throw new Error("the call ended without creating a task");
}

function untilTask(c: Connected, taskId: string) {
  return expect.poll(() => c.client.experimental.tasks.getTask(taskId));
}

describe("tasks/get", () => {
  it("shows a working job's latest progress as the status message, and the retention as ttl", async () => {
    const hold = gate();
    const c = await serve([holdTool({ runs: 0 }, hold.promise)]);
    const task = await createTask(c, "hold", { n: 1 });
    expect(task).toMatchObject({ status: "working", ttl: 7 * DAY, pollInterval: 1000 });
    await untilTask(c, task.taskId).toMatchObject({ status: "working", statusMessage: "computing (50%)" });
    hold.open();
    const done = await c.client.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema);
    expect(done.structuredContent).toEqual({ n: 1 });
    const final = await c.client.experimental.tasks.getTask(task.taskId);
    expect(final.status).toBe("completed");
    expect(Date.parse(final.lastUpdatedAt)).toBeGreaterThanOrEqual(Date.parse(final.createdAt));
  });

  it("answers an unknown task ID with an error, for tasks/get and tasks/result", async () => {
    const c = await serve([echo]);
    await expect(c.client.experimental.tasks.getTask("echo-nope")).rejects.toThrow(/not found/i);
    await expect(
      c.client.experimental.tasks.getTaskResult("echo-nope", CallToolResultSchema),
    ).rejects.toThrow(/not found/i);
  });
});

describe("tasks/cancel", () => {
  it("cancels the durable job, which probe then shows cancelled, and the result says so", async () => {
    const counter = { runs: 0 };
    const hold = gate();
    const c = await serve([holdTool(counter, hold.promise)]);
    const task = await createTask(c, "hold", { n: 2 });
    await expect.poll(() => counter.runs).toBe(1);
    const cancelled = await c.client.experimental.tasks.cancelTask(task.taskId);
    expect(cancelled).toMatchObject({ taskId: task.taskId, status: "cancelled" });
    const probed = structured<{ jobs: { status: string }[] }>(
      await c.call("probe_hold", { job_ids: [task.taskId] }),
    );
    expect(probed.jobs[0]?.status).toBe("cancelled");
    const result = await c.client.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema);
    expect(result.isError).toBe(true);
    expect(JSON.stringify(result.content)).toContain("cancelled");
    await expect(c.client.experimental.tasks.cancelTask(task.taskId)).rejects.toThrow(/terminal/);
    hold.open();
  });
});

describe("tasks/result", () => {
  it("is an isError result for a failed job, whose task is failed with the reason", async () => {
    const broken = brokenTool;
    const c = await serve([broken]);
    const task = await createTask(c, "broken", {});
    await untilTask(c, task.taskId).toMatchObject({
      status: "failed",
      statusMessage: "the upstream is down",
    });
    const result = await c.client.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema);
    expect(result.isError).toBe(true);
    expect(JSON.stringify(result.content)).toContain("the upstream is down");
    expect(result.structuredContent).toBeUndefined();
  });

  it("is an isError result when the stored result does not match the output schema", async () => {
    const liar = defineAsyncTool({
      name: "liar",
      description: "Returns the wrong shape",
      input: z.object({}),
      output: z.object({ ok: z.boolean() }),
      run: async () => ({ ok: "yes" }) as unknown as { ok: boolean },
    });
    const c = await serve([liar]);
    const task = await createTask(c, "liar", {});
    await untilTask(c, task.taskId).toMatchObject({ status: "completed" });
    const result = await c.client.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema);
    expect(result.isError).toBe(true);
    expect(JSON.stringify(result.content)).toContain("output schema");
  });
});

describe("tasks/list", () => {
  it("pages through the tasks in start order, leaving out tools with tasks: false", async () => {
    const hidden = defineAsyncTool({
      name: "hidden",
      description: "No tasks",
      input: z.object({ n: z.number() }),
      toolNames: { task: false },
      run: async () => 0,
    });
    const c = await serve([echo, hidden]);
    const ids: string[] = [];
    for (let n = 0; n < 55; n++) {
      ids.push((await c.runtime.start(echo, { n })).jobId);
      if (n % 10 === 0) await c.runtime.start(hidden, { n });
    }
    const first = await c.client.experimental.tasks.listTasks();
    expect(first.tasks).toHaveLength(50);
    expect(first.nextCursor).toBeDefined();
    const second = await c.client.experimental.tasks.listTasks(first.nextCursor);
    expect(second.nextCursor).toBeUndefined();
    expect([...first.tasks, ...second.tasks].map((t) => t.taskId)).toEqual(ids);
    await expect(c.client.experimental.tasks.listTasks("not-a-cursor")).rejects.toThrow(/cursor/i);
  });
});

describe("restarts", () => {
  it("keeps a finished task and its result across a restart on the same store file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tasks-test-"));
    try {
      const store = `sqlite:${join(dir, "jobs.db")}`;
      let taskId: string;
      {
        await using before = await connect([echo], store);
        taskId = (await createTask(before, "echo", { n: 9 })).taskId;
        await untilTask(before, taskId).toMatchObject({ status: "completed" });
      }
      await using after = await connect([echo], store);
      expect(await after.client.experimental.tasks.getTask(taskId)).toMatchObject({ status: "completed" });
      const result = await after.client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema);
      expect(result.structuredContent).toEqual({ n: 9 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

import { ProtocolError } from "@modelcontextprotocol/server";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { brokenTool } from "../../../test/helpers.ts";
import { type AsyncTools, createAsyncTools, defineAsyncTool } from "../../index.ts";
import { internalsOf } from "../../runtime/runtime.ts";
import { ExtensionTasks } from "./tasks-extension.ts";

const runtimes: AsyncTools[] = [];
afterEach(async () => {
  for (const runtime of runtimes.splice(0)) await runtime.close();
});

const broken = brokenTool;

const echo = defineAsyncTool({
  name: "echo",
  description: "Echoes",
  input: z.object({ word: z.string() }),
  output: z.object({ word: z.string() }),
  run: async (_ctx, { word }) => ({ word }),
});

const hidden = defineAsyncTool({
  name: "hidden",
  description: "Has no task tool",
  input: z.object({}),
  toolNames: { task: false },
  run: async () => ({}),
});

async function tasksOver(...tools: Parameters<typeof createAsyncTools>[0]["tools"]) {
  const runtime = await createAsyncTools({ store: "memory", tools });
  runtimes.push(runtime);
  const { engine } = internalsOf(runtime);
  const tasks = new ExtensionTasks(engine, new Map([["broken", "start_broken"]]), {
    retentionMs: Number.POSITIVE_INFINITY,
  });
  return { tasks, runtime, engine };
}

async function settled(tasks: ExtensionTasks, taskId: string) {
  let task = await tasks.get(taskId);
  await expect
    .poll(async () => {
      task = await tasks.get(taskId);
      return task.status;
    })
    .not.toBe("working");
  return task as Record<string, unknown>;
}

describe("ExtensionTasks", () => {
  it("creates a task named after the job, with ttlMs null when jobs are kept for ever", async () => {
    const { tasks, engine } = await tasksOver(echo);
    const created = await tasks.create(echo, { word: "hi" }, false);
    expect(created).toMatchObject({ resultType: "task", ttlMs: null, pollIntervalMs: 1000 });
    expect((await engine.snapshot(created.taskId)).tool).toBe("echo");
    const done = await settled(tasks, created.taskId);
    expect(done).toMatchObject({
      status: "completed",
      result: { resultType: "complete", structuredContent: { word: "hi" } },
    });
  });

  it("reports a job that failed in its function as completed with an isError result that says how to retry", async () => {
    const { tasks } = await tasksOver(broken);
    const created = await tasks.create(broken, {}, false);
    const done = await settled(tasks, created.taskId);
    expect(done.status).toBe("completed");
    expect(done.error).toBeUndefined();
    expect(done.result).toMatchObject({ isError: true, resultType: "complete" });
    expect(JSON.stringify(done.result)).toMatch(/the upstream is down.*start_broken again with fresh: true/);
  });

  it("reports failed, with a JSON-RPC error and the job ID, when a finished job cannot be read as a result", async () => {
    const unreadable = defineAsyncTool({
      name: "unreadable",
      description: "Its output schema throws while checking the result",
      input: z.object({}),
      output: z.object({ n: z.number() }).transform((): { n: number } => {
        throw new Error("the output check broke");
      }),
      run: async () => ({ n: 1 }),
    });
    const { tasks } = await tasksOver(unreadable);
    const created = await tasks.create(unreadable, {}, false);
    const done = await settled(tasks, created.taskId);
    expect(done.status).toBe("failed");
    expect(done.error).toEqual({
      code: -32603,
      message: expect.stringMatching(/could not be read as a tool result: the output check broke/),
      data: { job_id: created.taskId },
    });
    expect(done.result).toBeUndefined();
  });

  it("acknowledges tasks/update of a known task and refuses unknown tasks and tools without a task tool", async () => {
    const { tasks, runtime } = await tasksOver(echo, hidden);
    const created = await tasks.create(echo, { word: "x" }, false);
    expect(await tasks.update(created.taskId, { "not-outstanding": { action: "accept" } })).toEqual({});
    await expect(tasks.get("echo-0000000000000000")).rejects.toBeInstanceOf(ProtocolError);
    await expect(tasks.cancel("nope")).rejects.toThrow(/Task not found/);
    const job = await runtime.start(hidden, {});
    await expect(tasks.get(job.jobId)).rejects.toThrow(/Task not found/);
  });

  it("shows a job that asks as input_required with inputRequests, and takes answers one at a time", async () => {
    const { tasks } = await tasksOver(twoQuestions);
    const created = await tasks.create(twoQuestions, {}, false);
    const asking = await inputRequired(tasks, created.taskId, 2);
    expect(asking.inputRequests).toEqual({
      name: {
        method: "elicitation/create",
        params: {
          mode: "form",
          message: "Your name?",
          requestedSchema: expect.objectContaining({ type: "object" }),
        },
      },
      colour: {
        method: "elicitation/create",
        params: {
          mode: "form",
          message: "Your colour?",
          requestedSchema: expect.objectContaining({ type: "object" }),
        },
      },
    });

    // One answer now (and a key that is not outstanding, ignored): the other question stays open.
    const first = { name: { action: "accept", content: { value: "Ada" } }, unknown: { action: "decline" } };
    expect(await tasks.update(created.taskId, first)).toEqual({});
    const rest = await tasks.get(created.taskId);
    expect(rest.status).toBe("input_required");
    expect(Object.keys((rest as { inputRequests?: object }).inputRequests ?? {})).toEqual(["colour"]);

    // An answer its form refuses delivers nothing, and says why.
    await expect(
      tasks.update(created.taskId, { colour: { action: "accept", content: { value: 7 } } }),
    ).rejects.toThrow(/value must be a string/);
    expect(
      await tasks.update(created.taskId, { colour: { action: "accept", content: { value: "red" } } }),
    ).toEqual({});
    const done = await settled(tasks, created.taskId);
    expect(done).toMatchObject({
      status: "completed",
      result: { structuredContent: { said: "Ada likes red" } },
    });
  });
});

const valueForm = z.object({ value: z.string() });

const twoQuestions = defineAsyncTool({
  name: "two_questions",
  description: "Asks two questions at once",
  input: z.object({}),
  run: async (ctx) => {
    const [name, colour] = await Promise.all([
      ctx.ask("name", { message: "Your name?", schema: valueForm }),
      ctx.ask("colour", { message: "Your colour?", schema: valueForm }),
    ]);
    const text = (a: typeof name) => (a.action === "accept" ? a.content.value : a.action);
    return { said: `${text(name)} likes ${text(colour)}` };
  },
});

/** The task once it is input_required with `count` input requests. */
async function inputRequired(tasks: ExtensionTasks, taskId: string, count: number) {
  let task = (await tasks.get(taskId)) as { status: string; inputRequests?: Record<string, unknown> };
  await expect
    .poll(async () => {
      task = (await tasks.get(taskId)) as typeof task;
      return Object.keys(task.inputRequests ?? {}).length;
    })
    .toBe(count);
  expect(task.status).toBe("input_required");
  return task;
}

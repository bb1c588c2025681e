import { structured } from "@async-tools/test-helpers/mcp";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { type CallToolResult, CallToolResultSchema, type Task } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { autoClosing, type Connected, gate, squareTool } from "../../../test/helpers.ts";
import { createAsyncTools, defineAsyncTool } from "../../index.ts";
import { registerTools } from "./register.ts";

// A 2025-11-25 client that speaks Tasks declares nothing for them: a client's `tasks` capability has no
// `tools/call` (only sampling and elicitation), so every test here uses a client that declares nothing.
const serve = autoClosing();
afterEach(() => {
  vi.restoreAllMocks();
});

/** Makes a task-augmented call with the SDK's client task API and returns the task it created. */
async function createTask(c: Connected, name: string, args: Record<string, unknown>): Promise<Task> {
  const stream = c.client.experimental.tasks.callToolStream({ name, arguments: args }, CallToolResultSchema, {
    task: { ttl: 60_000 },
  });
  for await (const message of stream) {
    if (message.type === "taskCreated") return message.task;
    if (message.type === "error") throw message.error;
  }
  throw new Error("the call ended without creating a task");
}

describe("the task tool", () => {
  it("is listed under the definition's name, task-capable, with the result's output schema", async () => {
    const c = await serve([squareTool({ runs: 0 })]);
    const { tools } = await c.client.listTools();
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    expect(byName.square?.execution).toEqual({ taskSupport: "optional" });
    expect(byName.start_square?.execution?.taskSupport).toBe("forbidden");
    expect(Object.keys(byName.square?.outputSchema?.properties ?? {}).sort()).toEqual(["label", "square"]);
    expect(byName.square?.description).toContain("await_square");
  });

  it("returns a working task at once for a task-augmented call, then the typed result", async () => {
    const hold = gate();
    const c = await serve([squareTool({ runs: 0 }, hold.promise)]);
    const stream = c.client.experimental.tasks.callToolStream(
      { name: "square", arguments: { n: 7 } },
      CallToolResultSchema,
      { task: { ttl: 60_000 } },
    );
    const messages = [];
    for await (const message of stream) {
      messages.push(message);
      if (message.type === "taskCreated") {
        expect(message.task).toMatchObject({ status: "working", taskId: expect.stringMatching(/^square-/) });
        hold.open();
      }
    }
    const last = messages.at(-1);
    expect(last?.type).toBe("result");
    const result = (last as { result: CallToolResult }).result;
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toEqual({ square: 49, label: "x" });
  });

  it("answers a plain call by waiting for the job like the await tool, and returns its result", async () => {
    const counter = { runs: 0 };
    const c = await serve([squareTool(counter)]);
    const result = await c.call("square", { n: 5 });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toEqual({ square: 25, label: "x" });
    // The job is the start tool's job for the same arguments.
    const started = structured<{ created: boolean; status: string }>(await c.call("start_square", { n: 5 }));
    expect(started).toMatchObject({ created: false, status: "completed" });
    expect(counter.runs).toBe(1);
  });

  it("answers a plain call that outlasts the wait with the job ID and the await tool to keep waiting", async () => {
    const hold = gate();
    const c = await serve([squareTool({ runs: 0 }, hold.promise, { await: { defaultMs: 200 } })]);
    const result = await c.call("square", { n: 6 });
    hold.open();
    expect(result.isError).toBe(true);
    expect(JSON.stringify(result.content)).toMatch(/Job square-[0-9a-f]{16} is still running/);
    expect(JSON.stringify(result.content)).toContain("Call await_square with");
  });

  it("answers a plain call with -32601 when the definition requires a task, and starts nothing", async () => {
    const counter = { runs: 0 };
    const c = await serve([squareTool(counter, undefined, { taskSupport: "required" })]);
    const { tools } = await c.client.listTools();
    const tool = tools.find((t) => t.name === "square");
    expect(tool?.execution).toEqual({ taskSupport: "required" });
    expect(tool?.description).toContain("start_square");
    // The SDK's client refuses to send this itself, so send the raw request a client without Tasks would.
    const refused = c.client.request(
      { method: "tools/call", params: { name: "square", arguments: { n: 5 } } },
      CallToolResultSchema,
    );
    await expect(refused).rejects.toMatchObject({ code: -32601 });
    await expect(refused).rejects.toThrow(/Call start_square with the same arguments/);
    expect(counter.runs).toBe(0);
    const task = await createTask(c, "square", { n: 5 });
    expect(task.taskId).toMatch(/^square-/);
  });

  it("takes its name from tools.task", async () => {
    const named = defineAsyncTool({
      name: "named",
      description: "Named task tool",
      input: z.object({}),
      toolNames: { task: "run_named" },
      run: async () => 1,
    });
    const c = await serve([named]);
    const { tools } = await c.client.listTools();
    expect(tools.map((t) => t.name)).toContain("run_named");
  });

  it("shares one job and one execution with the start tool for the same arguments, under one ID", async () => {
    const counter = { runs: 0 };
    const hold = gate();
    const c = await serve([squareTool(counter, hold.promise)]);
    const task = await createTask(c, "square", { n: 3, label: "a" });
    const started = structured<{ job_id: string; created: boolean }>(
      await c.call("start_square", { label: "a", n: 3 }),
    );
    expect(started).toMatchObject({ job_id: task.taskId, created: false });
    const probed = structured<{ jobs: { status: string }[] }>(
      await c.call("probe_square", { job_ids: [task.taskId] }),
    );
    expect(probed.jobs[0]?.status).toBe("working");
    hold.open();
    const awaited = structured<{ jobs: { status: string; result: unknown }[] }>(
      await c.call("await_square", { job_ids: [started.job_id] }),
    );
    expect(awaited.jobs[0]).toMatchObject({ status: "completed", result: { square: 9, label: "a" } });
    const result = await c.client.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema);
    expect(result.structuredContent).toEqual({ square: 9, label: "a" });
    expect(counter.runs).toBe(1);
  });

  it("joins a job started by the start tool, and tasks/get reads it by its job ID", async () => {
    const counter = { runs: 0 };
    const c = await serve([squareTool(counter)]);
    const { job_id } = structured<{ job_id: string }>(await c.call("start_square", { n: 4 }));
    await c.call("await_square", { job_ids: [job_id] });
    expect(await c.client.experimental.tasks.getTask(job_id)).toMatchObject({
      taskId: job_id,
      status: "completed",
    });
    const task = await createTask(c, "square", { n: 4 });
    expect(task).toMatchObject({ taskId: job_id, status: "completed" });
    expect(counter.runs).toBe(1);
  });

  it("starts a new run with fresh: true, like the start tool", async () => {
    const counter = { runs: 0 };
    const c = await serve([squareTool(counter)]);
    const first = structured<{ job_id: string }>(await c.call("start_square", { n: 2 }));
    await c.call("await_square", { job_ids: [first.job_id] });
    const task = await createTask(c, "square", { n: 2, fresh: true });
    expect(task.taskId).toBe(`${first.job_id}.r2`);
    await expect
      .poll(() => c.client.experimental.tasks.getTask(task.taskId))
      .toMatchObject({ status: "completed" });
    expect(counter.runs).toBe(2);
  });

  it("is absent for a tool with tasks: false, whose start tool the SDK runs as a plain call when asked for a task", async () => {
    const plain = defineAsyncTool({
      name: "plain",
      description: "No tasks",
      input: z.object({ n: z.number() }),
      toolNames: { task: false },
      run: async (_ctx, { n }) => n,
    });
    const c = await serve([plain]);
    const { tools } = await c.client.listTools();
    expect(tools.map((t) => t.name)).not.toContain("plain");
    expect(tools.find((t) => t.name === "start_plain")?.execution).toEqual({ taskSupport: "forbidden" });

    // The spec says a server SHOULD answer -32601 here; SDK 1.32 ignores the task and runs the tool, so the
    // answer is a plain tool result, which the SDK's client rejects as no CreateTaskResult.
    const messages = [];
    const stream = c.client.experimental.tasks.callToolStream(
      { name: "start_plain", arguments: { n: 1 } },
      CallToolResultSchema,
      { task: {} },
    );
    for await (const message of stream) messages.push(message);
    expect(messages).toHaveLength(1);
    expect(messages[0]?.type).toBe("error");
    expect(String((messages[0] as { error: Error }).error.message)).toContain("Invalid task creation result");
    // The server did run it: the same arguments now join the job that call started.
    const again = structured<{ job_id: string; created: boolean }>(await c.call("start_plain", { n: 1 }));
    expect(again.created).toBe(false);
    await expect(c.client.experimental.tasks.getTask(again.job_id)).rejects.toThrow(/not found/i);
  });
});

describe("a server built without the task store", () => {
  it("gets every tool but the task tools, and one warning naming them", async () => {
    const writes: string[] = [];
    vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
      writes.push(String(chunk));
      return true;
    });
    const other = defineAsyncTool({
      name: "other",
      description: "x",
      input: z.object({}),
      run: async () => 1,
    });
    await using runtime = await createAsyncTools({
      store: "memory",
      tools: [squareTool({ runs: 0 }), other],
    });
    const server = new McpServer({ name: "no-tasks", version: "0.0.0" });
    registerTools(server, runtime);
    const client = new Client({ name: "test-client", version: "0.0.0" });
    const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
    await Promise.all([server.connect(serverTransport), client.connect(clientTransport)]);
    try {
      const { tools: listed } = await client.listTools();
      expect(listed.map((t) => t.name)).not.toContain("square");
      expect(listed.map((t) => t.name)).toContain("start_square");
      const warnings = writes.filter((line) => line.includes("task tools left out"));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain("square,other");
    } finally {
      await client.close();
      await server.close();
    }
  });
});

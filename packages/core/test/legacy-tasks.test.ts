/**
 * 2025-11-25 Tasks served by the v2 face (the example v2 server) to clients that open with `initialize`:
 * a v1 Client with the SDK's task API, and the ext-tasks session on a v2 Client in legacy mode. The v2
 * server SDK has no task store; the face serves that era's `tasks/*` itself over the same durable jobs.
 */
import { createTaskSessionFromClient, resultFromTaskOutcome } from "@modelcontextprotocol/ext-tasks/client";
import { CallToolResultSchema, type Task } from "@modelcontextprotocol/sdk/types.js";
import { describe, expect, it } from "vitest";
import { connectV1, connectV2, onCleanup, scratch, stepCounts, TASKS_CLIENT_V1 } from "./stdio-rig.ts";

describe("2025-11-25 Tasks on the v2 face", () => {
  it("serves the SDK 1.x task API: a task tool, a task that completes with the result, tasks/list, tasks/cancel", async () => {
    const { store, log } = scratch();
    const c = await connectV1(
      { ASYNC_TOOLS_STORE: store, TALLY_LOG: log, TALLY_STEP_MS: "1500" },
      { server: "v2", capabilities: TASKS_CLIENT_V1 },
    );
    expect(c.client.getServerCapabilities()?.tasks).toEqual({
      list: {},
      cancel: {},
      requests: { tools: { call: {} } },
    });
    const listed = (await c.listTools()).find((t) => t.name === "tally") as
      | { execution?: unknown }
      | undefined;
    expect(listed?.execution).toEqual({ taskSupport: "required" });

    let task: Task | undefined;
    let result: { structuredContent?: unknown } | undefined;
    const stream = c.client.experimental.tasks.callToolStream(
      { name: "tally", arguments: { numbers: [1, 2] } },
      CallToolResultSchema,
      { task: {} },
    );
    for await (const message of stream) {
      if (message.type === "taskCreated") task = message.task;
      if (message.type === "result") result = message.result;
      if (message.type === "error") throw message.error;
    }
    expect(task?.taskId).toMatch(/^tally-[0-9a-f]{16}$/);
    expect(task?.pollInterval).toBe(1000);
    expect(result?.structuredContent).toEqual({ label: "total", count: 2, sum: 3 });
    expect(stepCounts(log).get(`${task?.taskId} sum`)).toBe(1);
    const listedTasks = await c.client.experimental.tasks.listTasks();
    expect(listedTasks.tasks.map((t) => [t.taskId, t.status])).toContainEqual([task?.taskId, "completed"]);

    const slow = await c.client.request(
      {
        method: "tools/call",
        params: { name: "tally", arguments: { numbers: [5], label: "slow" }, task: {} },
      },
      // The CreateTaskResult's shape is checked by the SDK's own task schema through callToolStream above.
      CallToolResultSchema.passthrough(),
    );
    const slowId = (slow as unknown as { task: Task }).task.taskId;
    const cancelled = await c.client.experimental.tasks.cancelTask(slowId);
    expect(cancelled).toMatchObject({ taskId: slowId, status: "cancelled" });
    await expect(c.client.experimental.tasks.cancelTask(slowId)).rejects.toThrow(/terminal/);
  });

  it("serves the ext-tasks session of a v2 Client that speaks only 2025-11-25", async () => {
    const { store } = scratch();
    const c = await connectV2(
      { ASYNC_TOOLS_STORE: store, TALLY_STEP_MS: "100" },
      { mode: "legacy", capabilities: TASKS_CLIENT_V1 },
    );
    expect(c.client.getProtocolEra()).toBe("legacy");
    const session = createTaskSessionFromClient(c.client, { endpointId: "tally-legacy" });
    onCleanup(() => session.close().catch(() => undefined));
    const execution = await session.callTool("tally", { numbers: [4, 4] });
    expect(execution.kind).toBe("task");
    const { outcome } = await execution.settle();
    const result = resultFromTaskOutcome(outcome) as { structuredContent?: unknown };
    expect(result.structuredContent).toEqual({ label: "total", count: 2, sum: 8 });
  });
});

/**
 * 2025-11-25 Tasks served by the v2 face (the example v2 server) to clients that open with `initialize`:
 * a v1 Client with the SDK's task API (task-discovery.test.ts drives ext-tasks in legacy mode too). The v2
 * server SDK has no task store; the face serves that era's `tasks/*` itself over the same durable jobs.
 */

import { sideEffectCounts } from "@async-tools/test-helpers/children";
import { CallToolResultSchema, type Task } from "@modelcontextprotocol/sdk/types.js";
import { describe, expect, it } from "vitest";
import { connectV1, scratch } from "./stdio-rig.ts";

describe("2025-11-25 Tasks on the v2 face", () => {
  it("serves the SDK 1.x task API: a task tool, a task that completes with the result, tasks/list, tasks/cancel", async () => {
    const { store, log } = scratch();
    const c = await connectV1(
      { ASYNC_TOOLS_STORE: store, TALLY_LOG: log, TALLY_STEP_MS: "1500" },
      { server: "v2" },
    );
    expect(c.client.getServerCapabilities()?.tasks).toEqual({
      list: {},
      cancel: {},
      requests: { tools: { call: {} } },
    });
    const listed = (await c.listTools()).find((t) => t.name === "tally") as
      | { execution?: unknown }
      | undefined;
    expect(listed?.execution).toEqual({ taskSupport: "optional" });

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
    expect(sideEffectCounts(log).get(`${task?.taskId} sum`)).toBe(1);
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
});

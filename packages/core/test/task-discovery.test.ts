/**
 * A 2025-11-25 client that speaks Tasks declares nothing for `tools/call` (a client's `tasks.requests` covers
 * only sampling and elicitation), so the task tool must be found from the fields the spec does define: the
 * server's `tasks` capability and the tool's `execution.taskSupport`. Driven on both faces by the v1 SDK's
 * task API and by ext-tasks in 2025-11-25 mode, each with no capabilities declared.
 */
import { createTaskSessionFromClient, resultFromTaskOutcome } from "@modelcontextprotocol/ext-tasks/client";
import { CallToolResultSchema, type Task } from "@modelcontextprotocol/sdk/types.js";
import { describe, expect, it } from "vitest";
import { connectV1, connectV2, onCleanup, scratch } from "./stdio-rig.ts";

interface Listed {
  name: string;
  execution?: { taskSupport?: string };
}

describe.each(["v1", "v2"] as const)("the task tool on the %s face, to a 2025-11-25 client", (face) => {
  it("is listed as taskSupport optional and runs as a task through the v1 SDK's task API", async () => {
    const { store } = scratch();
    const c = await connectV1({ ASYNC_TOOLS_STORE: store, TALLY_STEP_MS: "300" }, { server: face });
    const tools = (await c.client.listTools()).tools as Listed[];
    expect(tools.find((t) => t.name === "tally")?.execution).toEqual({ taskSupport: "optional" });
    for (const name of ["start_tally", "probe_tally", "await_tally", "cancel_tally"]) {
      expect(tools.find((t) => t.name === name)?.execution?.taskSupport ?? "forbidden").toBe("forbidden");
    }

    // No `task` option: the SDK makes it a task because the tool says it may be one.
    let task: Task | undefined;
    let result: { structuredContent?: unknown } | undefined;
    const stream = c.client.experimental.tasks.callToolStream(
      { name: "tally", arguments: { numbers: [1, 2, 3] } },
      CallToolResultSchema,
    );
    for await (const message of stream) {
      if (message.type === "taskCreated") task = message.task;
      if (message.type === "result") result = message.result;
      if (message.type === "error") throw message.error;
    }
    expect(task?.taskId).toMatch(/^tally-[0-9a-f]{16}$/);
    expect(result?.structuredContent).toEqual({ label: "total", count: 3, sum: 6 });
  });

  it("answers a plain call of it with the job's result, waiting like the await tool", async () => {
    const { store } = scratch();
    const c = await connectV1({ ASYNC_TOOLS_STORE: store, TALLY_STEP_MS: "200" }, { server: face });
    await c.listTools();
    const result = await c.call("tally", { numbers: [2, 5] });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toEqual({ label: "total", count: 2, sum: 7 });
  });

  it("runs as a task for an ext-tasks session in 2025-11-25 mode", async () => {
    const { store } = scratch();
    const c = await connectV2(
      { ASYNC_TOOLS_STORE: store, TALLY_STEP_MS: "200" },
      { server: face, mode: "legacy" },
    );
    expect(c.client.getProtocolEra()).toBe("legacy");
    const session = createTaskSessionFromClient(c.client, { endpointId: `tally-${face}` });
    onCleanup(() => session.close().catch(() => undefined));
    const execution = await session.callTool(
      "tally",
      { numbers: [4, 4] },
      { task: { preference: "prefer" } },
    );
    expect(execution.kind).toBe("task");
    const { outcome } = await execution.settle();
    const result = resultFromTaskOutcome(outcome) as { structuredContent?: unknown };
    expect(result.structuredContent).toEqual({ label: "total", count: 2, sum: 8 });
  });
});

/**
 * The 2026-07-28 Tasks extension (`io.modelcontextprotocol/tasks`) served by the v2 face, driven the way a
 * host drives it: `createTaskSessionFromClient` from `@modelcontextprotocol/ext-tasks/client` over a v2
 * Client that negotiated 2026-07-28 with the example server, a real child process over stdio. The SDK
 * Client's codecs reject task-shaped traffic, so the host sends `tools/call` and `tasks/*` itself
 * (`rawDispatch`, on the Client's own transport) with the per-request envelope (`v2RequestFraming`).
 */
import { sideEffectCounts } from "@async-tools/test-helpers/children";
import { resultFromTaskOutcome, TaskCancelledError } from "@modelcontextprotocol/ext-tasks/client";
import { taskId } from "@modelcontextprotocol/ext-tasks/core";
import { describe, expect, it } from "vitest";
import { taskSessionOn } from "./raw-dispatch.ts";
import { connectV2, onCleanup, scratch, TASKS_EXTENSION_CAPABILITY } from "./stdio-rig.ts";
import { keepTaskNotifications, listenToTasks } from "./task-notifications.ts";

/** A task session on a new connection to the example server. */
async function tasksSession(env: Record<string, string>) {
  const c = await connectV2(env, { capabilities: TASKS_EXTENSION_CAPABILITY });
  expect(c.client.getProtocolEra()).toBe("modern");
  const session = taskSessionOn(c.client, c.transport, TASKS_EXTENSION_CAPABILITY);
  onCleanup(() => session.close().catch(() => undefined));
  return { ...c, session };
}

interface Tally {
  label: string;
  count: number;
  sum: number;
}

describe("the 2026-07-28 Tasks extension", () => {
  it("answers a call of the task tool with a task that completes with the result, under the job ID", async () => {
    const { store, log } = scratch();
    const { session, call, listTools } = await tasksSession({
      ASYNC_TOOLS_STORE: store,
      TALLY_LOG: log,
      TALLY_STEP_MS: "300",
    });
    expect((await listTools()).map((t) => t.name)).toContain("tally");
    const execution = await session.callTool("tally", { numbers: [1, 2, 3], label: "six" });
    expect(execution.kind).toBe("task");
    if (execution.kind !== "task") return;
    const taskId = execution.handle.taskId;
    expect(taskId).toMatch(/^tally-[0-9a-f]{16}$/);
    const { outcome } = await execution.settle();
    const result = resultFromTaskOutcome(outcome) as { structuredContent?: Tally; isError?: boolean };
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toEqual({ label: "six", count: 3, sum: 6 });

    // The task is the job: the start tool joins it and the probe tool reads it by the task ID.
    const receipt = (await call("start_tally", { numbers: [1, 2, 3], label: "six" })).structuredContent;
    expect(receipt).toMatchObject({ job_id: taskId, created: false, status: "completed" });
    expect(sideEffectCounts(log).get(`${taskId} sum`)).toBe(1);
  });

  it("reports ttlMs and pollIntervalMs, and refuses an unknown task", async () => {
    const { store } = scratch();
    const { session } = await tasksSession({ ASYNC_TOOLS_STORE: store, TALLY_STEP_MS: "60000" });
    const execution = await session.callTool("tally", { numbers: [9] });
    if (execution.kind !== "task") throw new Error("expected a task");
    const view = await session.task(execution.handle.taskId).snapshot();
    expect(view).toMatchObject({
      status: "working",
      retentionMs: 7 * 24 * 60 * 60 * 1000,
      suggestedPollIntervalMs: 1000,
    });
    await expect(session.task(taskId("tally-0000000000000000")).snapshot()).rejects.toThrow(/not found/i);
    await execution.cancel();
  });

  it("cancels the job behind a task", async () => {
    const { store } = scratch();
    const { session, call } = await tasksSession({ ASYNC_TOOLS_STORE: store, TALLY_STEP_MS: "60000" });
    const execution = await session.callTool("tally", { numbers: [7] });
    if (execution.kind !== "task") throw new Error("expected a task");
    await execution.cancel();
    const { outcome } = await execution.settle();
    expect(outcome.status).toBe("cancelled");
    expect(() => resultFromTaskOutcome(outcome)).toThrow(TaskCancelledError);
    const probed = (await call("probe_tally", { job_ids: [execution.handle.taskId] })).structuredContent as {
      jobs: { status: string }[];
    };
    expect(probed.jobs[0]?.status).toBe("cancelled");
  });

  it("survives a SIGKILL of the server: the task resumes on the next process and completes", async () => {
    const { store, log } = scratch();
    const first = await tasksSession({ ASYNC_TOOLS_STORE: store, TALLY_LOG: log, TALLY_STEP_MS: "60000" });
    const execution = await first.session.callTool("tally", { numbers: [20, 22] });
    if (execution.kind !== "task") throw new Error("expected a task");
    const reference = execution.serializeReference();
    const taskId = execution.handle.taskId;
    await expect.poll(() => sideEffectCounts(log).get(`${taskId} sum`)).toBe(1);
    await execution.detach();
    process.kill(first.pid, "SIGKILL");

    const second = await tasksSession({ ASYNC_TOOLS_STORE: store, TALLY_LOG: log, TALLY_STEP_MS: "500" });
    const resumed = await second.session.resumeTask(reference);
    const { outcome } = await resumed.settle();
    const result = resultFromTaskOutcome(outcome) as { structuredContent?: Tally };
    expect(result.structuredContent).toEqual({ label: "total", count: 2, sum: 42 });
    expect(sideEffectCounts(log).get(`${taskId} count`)).toBe(1);
    expect(sideEffectCounts(log).get(`${taskId} label`)).toBe(1);
  });

  it("sends notifications/tasks on a subscriptions/listen stream for the task IDs it names", async () => {
    const { store } = scratch();
    const { client, transport, session } = await tasksSession({
      ASYNC_TOOLS_STORE: store,
      TALLY_STEP_MS: "2000",
    });
    const received = keepTaskNotifications(client, transport);
    const execution = await session.callTool("tally", { numbers: [4, 5] });
    if (execution.kind !== "task") throw new Error("expected a task");
    const taskId = execution.handle.taskId;

    const subscription = await listenToTasks(client, [taskId, "tally-0000000000000000"]);
    expect(received.acknowledged).toEqual([{ taskIds: [taskId] }]);
    // The task's state at once, then its end, which also ends the subscription.
    expect(await subscription.closed).toBe("graceful");
    expect(received.tasks.map((n) => [n.taskId, n.status])).toEqual([
      [taskId, "working"],
      [taskId, "completed"],
    ]);
    expect(received.tasks[1]?.result?.structuredContent).toEqual({ label: "total", count: 2, sum: 9 });
    expect(received.tasks[1]?._meta?.["io.modelcontextprotocol/subscriptionId"]).toEqual(expect.any(String));
  });

  it("refuses a listen for task IDs from a request that does not declare the extension", async () => {
    const { store } = scratch();
    const plain = await connectV2({ ASYNC_TOOLS_STORE: store }, { mode: "pin" });
    await expect(listenToTasks(plain.client, ["tally-0000000000000000"])).rejects.toMatchObject({
      code: -32021,
    });
  });

  it("still answers a plain call of the same tool from a client without Tasks", async () => {
    const { store } = scratch();
    const plain = await connectV2({ ASYNC_TOOLS_STORE: store, TALLY_STEP_MS: "100" });
    expect((await plain.listTools()).map((t) => t.name)).toContain("tally");
    const result = await plain.call("tally", { numbers: [2, 3] });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toEqual({ label: "total", count: 2, sum: 5 });
    const receipt = await plain.call("start_tally", { numbers: [2, 3] });
    expect(receipt.structuredContent).toMatchObject({ created: false, status: "completed" });
  });
});

/**
 * The 2026-07-28 Tasks extension over Streamable HTTP: the same ext-tasks session as over stdio, on a v2
 * Client with the SDK's HTTP transport, against a real server process (`serveHttp` on the v2 face, stateless).
 */
import { join } from "node:path";
import { childEnv, NODE_ARGS, sideEffectCounts } from "@async-tools/test-helpers/children";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { resultFromTaskOutcome } from "@modelcontextprotocol/ext-tasks/client";
import { describe, expect, it } from "vitest";
import { startPortServer } from "./port-server.ts";
import { taskSessionOn } from "./raw-dispatch.ts";
import { onCleanup, scratch, TASKS_EXTENSION_CAPABILITY } from "./stdio-rig.ts";
import { keepTaskNotifications, listenToTasks } from "./task-notifications.ts";

const HTTP_SERVER = join(import.meta.dirname, "fixtures", "tally-v2-http-server.ts");

/** Starts the HTTP server process and resolves with it and its URL once it listens. */
function startServer(env: Record<string, string>) {
  return startPortServer(HTTP_SERVER, env);
}

async function tasksSession(url: URL) {
  const transport = new StreamableHTTPClientTransport(url);
  const client = new Client(
    { name: "http-test", version: "0" },
    { capabilities: TASKS_EXTENSION_CAPABILITY, versionNegotiation: { mode: "auto" } },
  );
  await client.connect(transport);
  onCleanup(() => client.close().catch(() => undefined));
  expect(client.getProtocolEra()).toBe("modern");
  const session = taskSessionOn(client, transport, TASKS_EXTENSION_CAPABILITY);
  onCleanup(() => session.close().catch(() => undefined));
  return { session, client, received: keepTaskNotifications(client, transport) };
}

describe("the 2026-07-28 Tasks extension over Streamable HTTP", () => {
  it("resumes a task after a SIGKILL of the server and completes it with the result", async () => {
    const { store, log } = scratch();
    const first = await startServer({ ASYNC_TOOLS_STORE: store, TALLY_LOG: log, TALLY_STEP_MS: "60000" });
    const { session } = await tasksSession(first.url);
    const execution = await session.callTool("tally", { numbers: [1, 2, 3] });
    if (execution.kind !== "task") throw new Error("expected a task");
    const taskId = execution.handle.taskId;
    const reference = execution.serializeReference();
    await expect.poll(() => sideEffectCounts(log).get(`${taskId} sum`)).toBe(1);
    await execution.detach();
    first.child.kill("SIGKILL");

    const second = await startServer({ ASYNC_TOOLS_STORE: store, TALLY_LOG: log, TALLY_STEP_MS: "300" });
    const { session: again } = await tasksSession(second.url);
    const resumed = await again.resumeTask(reference);
    const { outcome } = await resumed.settle();
    const result = resultFromTaskOutcome(outcome) as { structuredContent?: unknown };
    expect(result.structuredContent).toEqual({ label: "total", count: 3, sum: 6 });
    expect(sideEffectCounts(log).get(`${taskId} count`)).toBe(1);
  });

  it("sends notifications/tasks on a subscriptions/listen stream, also for a task a restarted server resumed", async () => {
    const { store, log } = scratch();
    const first = await startServer({ ASYNC_TOOLS_STORE: store, TALLY_LOG: log, TALLY_STEP_MS: "60000" });
    const { session } = await tasksSession(first.url);
    const execution = await session.callTool("tally", { numbers: [5, 6] });
    if (execution.kind !== "task") throw new Error("expected a task");
    const taskId = execution.handle.taskId;
    await expect.poll(() => sideEffectCounts(log).get(`${taskId} sum`)).toBe(1);
    await execution.detach();
    first.child.kill("SIGKILL");

    const second = await startServer({ ASYNC_TOOLS_STORE: store, TALLY_LOG: log, TALLY_STEP_MS: "1500" });
    const { client, received } = await tasksSession(second.url);
    const subscription = await listenToTasks(client, [taskId]);
    expect(received.acknowledged).toEqual([{ taskIds: [taskId] }]);
    expect(await subscription.closed).toBe("graceful");
    expect(received.tasks.map((n) => n.status)).toEqual(["working", "completed"]);
    expect(received.tasks[1]?.result?.structuredContent).toEqual({ label: "total", count: 2, sum: 11 });
  });

  it("refuses a listen for task IDs from a client that does not declare the extension", async () => {
    const { store } = scratch();
    const server = await startServer({ ASYNC_TOOLS_STORE: store });
    const client = new Client({ name: "http-test", version: "0" }, { versionNegotiation: { mode: "auto" } });
    await client.connect(new StreamableHTTPClientTransport(server.url));
    onCleanup(() => client.close().catch(() => undefined));
    await expect(listenToTasks(client, ["tally-0000000000000000"])).rejects.toThrow(/-32021|capability/i);
  });
});

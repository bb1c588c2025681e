/**
 * A job that asks a person, over protocol 2026-07-28, with real server processes and the SDKs' own clients:
 * as a task of the Tasks extension (`input_required` with `inputRequests` on `tasks/get` and in
 * `notifications/tasks`, answered by ext-tasks through `tasks/update`), and in the call itself (multi
 * round-trip requests: an `input_required` result with a signed `requestState`, answered by the client's
 * retry). Answers are durable: they reach a job that a SIGKILLed server left waiting, through the next process.
 */
import { join } from "node:path";
import { sideEffectCounts } from "@async-tools/test-helpers/children";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { resultFromTaskOutcome } from "@modelcontextprotocol/ext-tasks/client";
import { describe, expect, it } from "vitest";
import { startPortServer } from "./port-server.ts";
import { rawDispatch, taskSessionOn } from "./raw-dispatch.ts";
import { connectV2, onCleanup, scratch, TASKS_EXTENSION_CAPABILITY } from "./stdio-rig.ts";
import { keepTaskNotifications, listenToTasks } from "./task-notifications.ts";

const APPROVAL_SERVER = join(import.meta.dirname, "fixtures", "approval-server.ts");
const CAPABILITIES = { elicitation: {}, ...TASKS_EXTENSION_CAPABILITY };
const APPROVED = { action: "accept", content: { proceed: true, approver: "ops" } } as const;

/**
 * A v2 Client with elicitation and the Tasks extension on a new approval server over stdio, with ext-tasks
 * whose person answers with `answer` (by default never: ext-tasks without a handler would cancel the form).
 */
async function tasksSession(
  env: Record<string, string>,
  answer: () => Promise<typeof APPROVED> = () => new Promise(() => undefined),
) {
  const c = await connectV2(env, { server: APPROVAL_SERVER, mode: "pin", capabilities: CAPABILITIES });
  const session = taskSessionOn(c.client, c.transport, CAPABILITIES, {
    onInputRequest: async () => (await answer()) as never,
  });
  onCleanup(() => session.close().catch(() => undefined));
  return { ...c, session, received: keepTaskNotifications(c.client, c.transport) };
}

type Dispatch = ReturnType<typeof rawDispatch>;

/** Sends `tools/call` of `approve_spend` as raw JSON-RPC (a client's retry, or a tampered one) with the envelope. */
function rawCall(dispatch: Dispatch, params: Record<string, unknown>) {
  return dispatch({
    method: "tools/call",
    params: {
      name: "approve_spend",
      ...params,
      _meta: {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": { name: "raw", version: "0" },
        "io.modelcontextprotocol/clientCapabilities": { elicitation: {} },
      },
    },
  } as never) as Promise<{ kind: string; result?: Record<string, unknown>; error?: { code: number } }>;
}

/** Raw JSON-RPC on the transport of a v2 Client connected to `url`. */
async function httpDispatch(url: URL): Promise<Dispatch> {
  const transport = new StreamableHTTPClientTransport(url);
  const client = new Client({ name: "http-test", version: "0" }, { versionNegotiation: { mode: "auto" } });
  await client.connect(transport);
  onCleanup(() => client.close().catch(() => undefined));
  return rawDispatch(transport);
}

describe("a job that asks, over 2026-07-28", () => {
  it("is an input_required task, answered through tasks/update after a SIGKILL and a restart", async () => {
    const { store, log } = scratch();
    const env = { ASYNC_TOOLS_STORE: store, APPROVAL_LOG: log };
    const first = await tasksSession(env);
    const execution = await first.session.callTool("approve_spend", { amount: 40 });
    if (execution.kind !== "task") throw new Error("expected a task");
    const taskId = execution.handle.taskId;
    const reference = execution.serializeReference();

    // The question shows on the task, in a notification that carries what tasks/get answers.
    await listenToTasks(first.client, [taskId]);
    await expect.poll(() => first.received.tasks.at(-1)?.status, { timeout: 30_000 }).toBe("input_required");
    expect(first.received.tasks.at(-1)?.inputRequests).toEqual({
      confirm: {
        method: "elicitation/create",
        params: {
          mode: "form",
          message: "This costs $40. Go ahead?",
          requestedSchema: expect.objectContaining({ type: "object", required: ["proceed", "approver"] }),
        },
      },
    });
    await execution.detach();
    process.kill(first.pid, "SIGKILL");

    const second = await tasksSession(env, async () => APPROVED);
    await listenToTasks(second.client, [taskId]);
    const resumed = await second.session.resumeTask(reference);
    const { outcome } = await resumed.settle();
    const result = resultFromTaskOutcome(outcome) as { structuredContent?: unknown };
    expect(result.structuredContent).toEqual({ amount: 40, spent: true, approver: "ops" });
    expect(sideEffectCounts(log).get(`${taskId} quote`)).toBe(1);
    expect(sideEffectCounts(log).get(`${taskId} spend`)).toBe(1);
    await expect.poll(() => second.received.tasks.at(-1)?.status).toBe("completed");
    expect(second.received.tasks[0]?.status).toBe("input_required");
  });

  it("asks in the call itself: the v2 Client's elicitation handler answers and the call returns the result", async () => {
    const { store, log } = scratch();
    const c = await connectV2(
      { ASYNC_TOOLS_STORE: store, APPROVAL_LOG: log },
      { server: APPROVAL_SERVER, mode: "pin", capabilities: { elicitation: {} } },
    );
    const asked: string[] = [];
    c.client.setRequestHandler("elicitation/create", async (request) => {
      asked.push(String((request.params as { message?: unknown }).message));
      return { action: "accept", content: { proceed: true, approver: "me" } };
    });
    const result = await c.call("approve_spend", { amount: 12 });
    expect(result.structuredContent).toEqual({ amount: 12, spent: true, approver: "me" });
    expect(asked).toEqual(["This costs $12. Go ahead?"]);
  });

  it("honours a round's requestState in the next process, and refuses a tampered one", async () => {
    const { store, log } = scratch();
    const env = { ASYNC_TOOLS_STORE: store, APPROVAL_LOG: log, APPROVAL_HTTP: "1" };
    const first = await startPortServer(APPROVAL_SERVER, env);
    const round = await rawCall(await httpDispatch(first.url), { arguments: { amount: 7 } });
    expect(round.result).toMatchObject({
      resultType: "input_required",
      inputRequests: { confirm: { method: "elicitation/create" } },
      requestState: expect.any(String),
    });
    const state = round.result?.requestState as string;
    first.child.kill("SIGKILL");

    const second = await startPortServer(APPROVAL_SERVER, env);
    const dispatch = await httpDispatch(second.url);
    const answer = { inputResponses: { confirm: APPROVED }, arguments: { amount: 7 } };
    const tampered = await rawCall(dispatch, { ...answer, requestState: `${state.slice(0, -2)}xx` });
    expect(tampered.error?.code).toBe(-32602);
    const done = await rawCall(dispatch, { ...answer, requestState: state });
    expect(done.result).toMatchObject({
      structuredContent: { amount: 7, spent: true, approver: "ops" },
    });
    const jobs = [...sideEffectCounts(log).keys()].filter((line) => line.endsWith(" quote"));
    expect(jobs).toHaveLength(1);
  });

  it("asks the client's model and its roots in the call itself: the v2 Client's sampling and roots handlers answer", async () => {
    const { store, log } = scratch();
    const c = await connectV2(
      { ASYNC_TOOLS_STORE: store, SIDE_EFFECTS: log },
      { server: APPROVAL_SERVER, mode: "pin", capabilities: { sampling: {}, roots: {} } },
    );
    const prompts: unknown[] = [];
    c.client.setRequestHandler("sampling/createMessage", async (request) => {
      prompts.push((request.params as { messages: unknown }).messages);
      return { role: "assistant", content: { type: "text", text: "Short." }, model: "v2-model" };
    });
    c.client.setRequestHandler("roots/list", async () => ({ roots: [{ uri: "file:///v2/root" }] }));

    const summary = await c.call("summarize", { text: "a durable round of sampling" });
    expect(summary.structuredContent).toEqual({ summary: "Short.", model: "v2-model" });
    expect(prompts).toEqual([
      [
        {
          role: "user",
          content: { type: "text", text: "Summarize in one line (5 words): a durable round of sampling" },
        },
      ],
    ]);
    const scan = await c.call("scan_roots", { depth: 1 });
    expect(scan.structuredContent).toEqual({ scanned: ["file:///v2/root"] });
    const ran = [...sideEffectCounts(log).entries()];
    expect(ran.map(([line]) => line.split(" ")[1]).sort()).toEqual(["filed", "prepared", "read", "scanned"]);
    expect(ran.every(([, count]) => count === 1)).toBe(true);
  });
});

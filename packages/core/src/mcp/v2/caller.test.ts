/**
 * Jobs bound to their caller on the v2 face: over the SDK's HTTP handler (`createMcpHandler`, in process),
 * requests carry auth info, and each principal's jobs and tasks are its own, as on the v1 face.
 */
import { statelessCaller } from "@async-tools/test-helpers/mcp";
import { createMcpHandler, McpServer } from "@modelcontextprotocol/server";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { type AsyncTools, createAsyncTools, defineAsyncTool } from "../../index.ts";
import { registerTools } from "./register.ts";

const echo = defineAsyncTool({
  name: "echo",
  description: "Echoes a word",
  input: z.object({ word: z.string() }),
  output: z.object({ word: z.string() }),
  run: async (ctx, { word }) => ctx.run("echo", () => ({ word })),
});

const TASKS = { extensions: { "io.modelcontextprotocol/tasks": {} } };
const runtimes: AsyncTools[] = [];
afterEach(async () => {
  for (const runtime of runtimes.splice(0)) await runtime.close();
});

async function serve() {
  const runtime = await createAsyncTools({ tools: [echo], store: "memory" });
  runtimes.push(runtime);
  const handler = createMcpHandler(() => {
    const server = new McpServer({ name: "echo", version: "0" });
    registerTools(server, runtime);
    return server;
  });
  const call = statelessCaller(handler.fetch);
  /** One 2026-07-28 request as `principal`, answered by the handler. */
  return (principal: string, method: string, params: Record<string, unknown>, capabilities = {}) =>
    call({ method, params }, { principal, capabilities });
}

describe("the v2 face with authenticated callers", () => {
  it("gives each principal its own jobs and tasks", async () => {
    const request = await serve();
    const start = async (who: string) =>
      (await request(who, "tools/call", { name: "start_echo", arguments: { word: "a" } })).result
        ?.structuredContent?.job_id as string;
    const alices = await start("alice");
    const bobs = await start("bob");
    expect(bobs).not.toBe(alices);
    const probed = await request("bob", "tools/call", {
      name: "probe_echo",
      arguments: { job_ids: [alices] },
    });
    expect(probed.result?.isError).toBeUndefined();
    expect(probed.result).toMatchObject({
      content: [{ text: expect.stringMatching(/No job found/) }],
      structuredContent: { jobs: [{ job_id: alices, status: "not_found" }] },
    });

    const task = await request("alice", "tools/call", { name: "echo", arguments: { word: "t" } }, TASKS);
    const taskId = task.result?.taskId as string;
    expect(task.result?.resultType).toBe("task");
    const own = await request("alice", "tasks/get", { taskId }, TASKS);
    expect(own.result?.taskId).toBe(taskId);
    const stranger = await request("bob", "tasks/get", { taskId }, TASKS);
    expect(stranger.error).toMatchObject({ code: -32602, message: expect.stringMatching(/Task not found/) });
    const cancel = await request("bob", "tasks/cancel", { taskId }, TASKS);
    expect(cancel.error?.code).toBe(-32602);
  });
});

describe("a malformed tools/call", () => {
  it("answers a call without a tool name with a clean invalid-params error", async () => {
    const request = await serve();
    const answer = await request("alice", "tools/call", { arguments: { word: "a" } });
    expect(answer.error?.code).toBe(-32602);
    expect(answer.error?.message).toContain('"name"');
    expect(answer.error?.message).not.toMatch(/invalid_type|expected|\[\s*\{/);
  });
});

/**
 * The v2 face on the wire, in process: `serveStdio` over in-memory pipes, raw JSON-RPC lines with the
 * 2026-07-28 envelope, and the answers checked against the Tasks extension's published schemas
 * (`@modelcontextprotocol/ext-tasks/core/v2`).
 */
import { PassThrough } from "node:stream";
import {
  CancelTaskResultV2Schema,
  CreateTaskResultV2Schema,
  GetTaskResultV2Schema,
  UpdateTaskResultV2Schema,
} from "@modelcontextprotocol/ext-tasks/core/v2";
import { McpServer } from "@modelcontextprotocol/server";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { type AnyAsyncTool, defineAsyncTool, PermanentError, type TaskSupport } from "../../index.ts";
import { type RegisterToolsOptions, registerTools } from "./register.ts";
import { type StdioServing, serveStdio } from "./stdio.ts";

/** `echo`: echoes a word; the word "refuse" fails the job for good (a PermanentError: the tool's own error). */
const echoOf = (taskSupport: TaskSupport = "optional") =>
  defineAsyncTool({
    name: "echo",
    description: "Echoes a word",
    input: z.object({ word: z.string().min(1) }),
    output: z.object({ word: z.string() }),
    taskSupport,
    run: async (ctx, { word }) =>
      ctx.run("echo", () => {
        if (word === "refuse") throw new PermanentError("the word refuse is refused");
        return { word };
      }),
  });
const echo = echoOf();

const TASKS = { extensions: { "io.modelcontextprotocol/tasks": {} } };
const servings: StdioServing[] = [];
afterEach(async () => {
  for (const serving of servings.splice(0)) await serving.close();
});

type Answer = { id: number; result?: Record<string, unknown>; error?: { code: number; message: string } };

/** A v2 server on pipes, and a `request` that sends one enveloped (or legacy) request and takes its answer. */
function connect(options: RegisterToolsOptions = {}, tools: AnyAsyncTool[] = [echo]) {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const answers = new Map<number, Answer>();
  let pending = "";
  stdout.on("data", (chunk: Buffer) => {
    pending += chunk.toString();
    for (let at = pending.indexOf("\n"); at !== -1; at = pending.indexOf("\n")) {
      const message = JSON.parse(pending.slice(0, at)) as Answer;
      if (typeof message.id === "number") answers.set(message.id, message);
      pending = pending.slice(at + 1);
    }
  });
  const serving = serveStdio(
    (runtime) => {
      const server = new McpServer({ name: "echo", version: "0" });
      registerTools(server, runtime, options);
      return server;
    },
    { runtime: { tools, store: "memory" }, stdin, stdout, exitOnClose: false },
  );
  servings.push(serving);
  let next = 0;
  const request = async (
    method: string,
    params: Record<string, unknown> = {},
    capabilities: Record<string, unknown> | "legacy" = {},
  ): Promise<Answer> => {
    next += 1;
    const id = next;
    const _meta =
      capabilities === "legacy"
        ? undefined
        : {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": { name: "raw", version: "0" },
            "io.modelcontextprotocol/clientCapabilities": capabilities,
          };
    stdin.write(
      `${JSON.stringify({ jsonrpc: "2.0", id, method, params: { ...params, ...(_meta ? { _meta } : {}) } })}\n`,
    );
    await expect.poll(() => answers.has(id)).toBe(true);
    return answers.get(id) as Answer;
  };
  return { request };
}

describe("the v2 face on the 2026-07-28 wire", () => {
  it("lists the task tool to every request, and one that requires a task only to those that declare Tasks", async () => {
    const names = (answer: Answer) => ((answer.result?.tools ?? []) as { name: string }[]).map((t) => t.name);
    const optional = connect();
    expect(names(await optional.request("tools/list"))).toEqual([
      "start_echo",
      "probe_echo",
      "await_echo",
      "cancel_echo",
      "echo",
    ]);
    expect(names(await optional.request("tools/list", {}, TASKS))).toContain("echo");
    const required = connect({}, [echoOf("required")]);
    expect(names(await required.request("tools/list"))).not.toContain("echo");
    expect(names(await required.request("tools/list", {}, TASKS))).toContain("echo");
  });

  it("lays the tools out as asked: shared probe, await and cancel, or no task tool", async () => {
    const names = (answer: Answer) => ((answer.result?.tools ?? []) as { name: string }[]).map((t) => t.name);
    const shared = connect({ jobTools: "shared" });
    expect(names(await shared.request("tools/list", {}, TASKS))).toEqual([
      "start_echo",
      "probe_jobs",
      "await_jobs",
      "cancel_jobs",
      "echo",
    ]);
    const plain = connect({ tasks: false });
    expect(names(await plain.request("tools/list", {}, TASKS))).not.toContain("echo");
  });

  it("answers a task call, tasks/get, tasks/update and tasks/cancel in the extension's published shapes", async () => {
    const { request } = connect();
    const created = await request("tools/call", { name: "echo", arguments: { word: "hi" } }, TASKS);
    const task = CreateTaskResultV2Schema.parse(created.result);
    expect(task.taskId).toMatch(/^echo-[0-9a-f]{16}$/);
    let got = GetTaskResultV2Schema.parse(
      (await request("tasks/get", { taskId: task.taskId }, TASKS)).result,
    );
    await expect
      .poll(async () => {
        got = GetTaskResultV2Schema.parse(
          (await request("tasks/get", { taskId: task.taskId }, TASKS)).result,
        );
        return got.status;
      })
      .toBe("completed");
    expect(got).toMatchObject({ result: { structuredContent: { word: "hi" }, resultType: "complete" } });
    const updated = await request("tasks/update", { taskId: task.taskId, inputResponses: {} }, TASKS);
    UpdateTaskResultV2Schema.parse(updated.result);
    CancelTaskResultV2Schema.parse((await request("tasks/cancel", { taskId: task.taskId }, TASKS)).result);
    const unknown = await request("tasks/get", { taskId: "echo-0000000000000000" }, TASKS);
    expect(unknown.error).toMatchObject({ code: -32602, message: expect.stringMatching(/Task not found/) });
  });

  it("refuses tasks/get, tasks/update and tasks/cancel with -32021 to a request that does not declare Tasks", async () => {
    const { request } = connect();
    const created = await request("tools/call", { name: "echo", arguments: { word: "gate" } }, TASKS);
    const { taskId } = CreateTaskResultV2Schema.parse(created.result);
    for (const [method, params] of [
      ["tasks/get", { taskId }],
      ["tasks/update", { taskId, inputResponses: {} }],
      ["tasks/cancel", { taskId }],
      ["tasks/get", { taskId: "echo-0000000000000000" }],
    ] as const) {
      const answer = await request(method, params);
      expect(answer.error, method).toMatchObject({
        code: -32021,
        data: { requiredCapabilities: { extensions: { "io.modelcontextprotocol/tasks": {} } } },
      });
    }
  });

  it("reports a job that failed in its function as a completed task with an isError result", async () => {
    const { request } = connect();
    const created = await request("tools/call", { name: "echo", arguments: { word: "refuse" } }, TASKS);
    const { taskId } = CreateTaskResultV2Schema.parse(created.result);
    let got = GetTaskResultV2Schema.parse((await request("tasks/get", { taskId }, TASKS)).result);
    await expect
      .poll(async () => {
        got = GetTaskResultV2Schema.parse((await request("tasks/get", { taskId }, TASKS)).result);
        return got.status;
      })
      .not.toBe("working");
    expect(got).toMatchObject({ status: "completed", result: { isError: true, resultType: "complete" } });
    expect(got).not.toHaveProperty("error");
    expect(JSON.stringify(got)).toContain("the word refuse is refused");
  });

  it("answers a plain call of a tool that requires a task with -32021 naming the extension", async () => {
    const { request } = connect({}, [echoOf("required")]);
    const plain = await request("tools/call", { name: "echo", arguments: { word: "a" } });
    expect(plain.error).toMatchObject({
      code: -32021,
      message: expect.stringContaining("start_echo"),
      data: { requiredCapabilities: { extensions: { "io.modelcontextprotocol/tasks": {} } } },
    });
    const asTask = await request("tools/call", { name: "echo", arguments: { word: "a" } }, TASKS);
    expect(CreateTaskResultV2Schema.parse(asTask.result).status).toBe("working");
    const start = await request("tools/call", { name: "start_echo", arguments: { word: "a" } });
    expect(start.result).toMatchObject({ structuredContent: { created: false } });
  });

  it("answers bad input of a task call with a tool error, not a task", async () => {
    const { request } = connect();
    const answer = await request("tools/call", { name: "echo", arguments: { word: "" } }, TASKS);
    expect(answer.result).toMatchObject({ isError: true, resultType: "complete" });
  });

  it("keeps start_x a plain receipt for a Tasks client", async () => {
    const { request } = connect();
    const answer = await request("tools/call", { name: "start_echo", arguments: { word: "a" } }, TASKS);
    expect(answer.result).toMatchObject({ resultType: "complete", structuredContent: { created: true } });
  });
});

describe("the v2 face on the 2025-11-25 wire", () => {
  it("advertises 2025-11-25 Tasks at initialize and has no extension-only methods", async () => {
    const { request } = connect();
    const init = await request(
      "initialize",
      { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "old", version: "0" } },
      "legacy",
    );
    expect(init.result).toMatchObject({
      protocolVersion: "2025-11-25",
      capabilities: { tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } },
    });
    const update = await request("tasks/update", { taskId: "echo-0000000000000000" }, "legacy");
    expect(update.error?.code).toBe(-32601);
    const get = await request("tasks/get", { taskId: "echo-0000000000000000" }, "legacy");
    expect(get.error).toMatchObject({ code: -32602, message: expect.stringMatching(/Task not found/) });
  });

  it("answers a plain call of a tool that requires a task with -32601, and lists it as required", async () => {
    const { request } = connect({}, [echoOf("required")]);
    await request(
      "initialize",
      { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "old", version: "0" } },
      "legacy",
    );
    const listed = await request("tools/list", {}, "legacy");
    const tools = (listed.result?.tools ?? []) as { name: string; execution?: unknown }[];
    expect(tools.find((t) => t.name === "echo")?.execution).toEqual({ taskSupport: "required" });
    const plain = await request("tools/call", { name: "echo", arguments: { word: "a" } }, "legacy");
    expect(plain.error).toMatchObject({ code: -32601, message: expect.stringContaining("start_echo") });
  });

  it("answers tasks/list and tasks/result only on 2025-11-25", async () => {
    const { request } = connect();
    const list = await request("tasks/list", {}, TASKS);
    expect(list.error?.code).toBe(-32601);
  });
});

/**
 * The job view on the wire: the `ui://` resource and its MIME type, `_meta.ui` on the start and task tools,
 * the app-only tools only for clients that declared MCP Apps (2026-07-28 per request through the SDK's HTTP
 * handler, 2025-11-25 at `initialize` through a real v2 Client), exactly today's tools for everyone else,
 * and the view's tools bound to the calling principal.
 */

import { statelessCaller } from "@async-tools/test-helpers/mcp";
import { Client } from "@modelcontextprotocol/client";
import { RESOURCE_MIME_TYPE, RESOURCE_URI_META_KEY } from "@modelcontextprotocol/ext-apps";
import { EXTENSION_ID } from "@modelcontextprotocol/ext-apps/server";
import { createMcpHandler, InMemoryTransport, McpServer } from "@modelcontextprotocol/server";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { gate } from "../../../../test/helpers.ts";
import { type AsyncTools, createAsyncTools, defineAsyncTool } from "../../../index.ts";
import { type RegisterToolsOptions, registerTools } from "../register.ts";
import { JOB_VIEW_URI, UI_EXTENSION, UI_MIME_TYPE } from "./job-view.ts";
import { VIEW_TOOLS, type ViewJob } from "./protocol.ts";

const hold = gate();
const echo = defineAsyncTool({
  name: "echo",
  description: "Echoes a word",
  input: z.object({ word: z.string() }),
  output: z.object({ word: z.string() }),
  run: async (ctx, { word }) => {
    if (word === "hold") await ctx.run("hold", () => hold.promise);
    return ctx.run("echo", () => ({ word }));
  },
  view: {
    render(result, kit) {
      return `<p class="echo">${kit.escape(result.word)}</p>`;
    },
  },
});

const UI = { extensions: { [UI_EXTENSION]: { mimeTypes: [UI_MIME_TYPE] } } };
const TASKS = { extensions: { "io.modelcontextprotocol/tasks": {} } };
const runtimes: AsyncTools[] = [];
afterEach(async () => {
  for (const runtime of runtimes.splice(0)) await runtime.close();
});

async function open() {
  const runtime = await createAsyncTools({ tools: [echo], store: "memory" });
  runtimes.push(runtime);
  return runtime;
}

/** The SDK's HTTP handler over `runtime`, and one 2026-07-28 request as `principal` with `capabilities`. */
function http(runtime: AsyncTools, options: RegisterToolsOptions = { view: true }) {
  const handler = createMcpHandler(() => {
    const server = new McpServer({ name: "echo", version: "0" });
    registerTools(server, runtime, options);
    return server;
  });
  const call = statelessCaller(handler.fetch);
  return async (
    method: string,
    params: Record<string, unknown>,
    capabilities: object = UI,
    principal = "alice",
  ) => {
    const answer = await call({ method, params }, { principal, clientName: "host", capabilities });
    if (answer.result === undefined) throw new Error(`${method}: ${JSON.stringify(answer.error)}`);
    return answer.result;
  };
}

type Listed = { name: string; _meta?: Record<string, unknown> };
const names = (tools: Listed[]) => tools.map((t) => t.name).sort();

describe("the job view on the v2 face", () => {
  it("uses the MCP Apps names of @modelcontextprotocol/ext-apps", () => {
    expect(UI_EXTENSION).toBe(EXTENSION_ID);
    expect(UI_MIME_TYPE).toBe(RESOURCE_MIME_TYPE);
  });

  it("gives a host with MCP Apps _meta.ui on the start and task tools, and the app-only tools", async () => {
    const request = http(await open());
    const { tools } = (await request(
      "tools/list",
      {},
      { extensions: { ...UI.extensions, ...TASKS.extensions } },
    )) as {
      tools: Listed[];
    };
    const byName = new Map(tools.map((t) => [t.name, t]));
    for (const name of ["start_echo", "echo"]) {
      expect(byName.get(name)?._meta).toMatchObject({
        ui: { resourceUri: JOB_VIEW_URI },
        [RESOURCE_URI_META_KEY]: JOB_VIEW_URI,
      });
    }
    expect(byName.get("probe_echo")?._meta).toBeUndefined();
    for (const name of Object.values(VIEW_TOOLS)) {
      expect(byName.get(name)?._meta).toEqual({ ui: { resourceUri: JOB_VIEW_URI, visibility: ["app"] } });
    }
  });

  it("lists exactly today's tools to a client without the extension", async () => {
    const runtime = await open();
    const withView = (await http(runtime)("tools/list", {}, {})) as { tools: Listed[] };
    const without = (await http(runtime, {})("tools/list", {}, {})) as { tools: Listed[] };
    expect(withView.tools).toEqual(without.tools);
    expect(names(withView.tools)).toEqual(["await_echo", "cancel_echo", "echo", "probe_echo", "start_echo"]);
  });

  it("lists the view's resource only to clients with the extension", async () => {
    const request = http(await open());
    const listed = async (capabilities: object) =>
      ((await request("resources/list", {}, capabilities)) as { resources: { uri: string }[] }).resources;
    expect(await listed(UI)).toEqual([
      expect.objectContaining({ uri: JOB_VIEW_URI, mimeType: UI_MIME_TYPE }),
    ]);
    expect(await listed({})).toEqual([]);
  });

  it("reads, cancels and retries jobs for their own principal only", async () => {
    const request = http(await open());
    const start = await request("tools/call", { name: "start_echo", arguments: { word: "hold" } });
    const jobId = (start.structuredContent as { job_id: string }).job_id;
    const view = async (tool: string, principal: string) =>
      (
        (await request("tools/call", { name: tool, arguments: { job_id: jobId } }, UI, principal))
          .structuredContent as { job: ViewJob }
      ).job;

    expect((await view(VIEW_TOOLS.read, "alice")).status).toBe("working");
    expect((await view(VIEW_TOOLS.read, "bob")).status).toBe("not_found");
    expect((await view(VIEW_TOOLS.cancel, "bob")).status).toBe("not_found");
    expect((await view(VIEW_TOOLS.read, "alice")).status).toBe("working");
    const cancelled = await view(VIEW_TOOLS.cancel, "alice");
    expect(cancelled).toMatchObject({ jobId, status: "cancelled", tool: "echo" });
    expect((await view(VIEW_TOOLS.retry, "bob")).status).toBe("not_found");
    const retried = await view(VIEW_TOOLS.retry, "alice");
    expect(retried.jobId).not.toBe(jobId);
    expect(retried.status).toMatch(/queued|working/);
    hold.open();
  });

  it("opens the job a task tool call's arguments name, as the caller", async () => {
    const request = http(await open());
    const task = await request("tools/call", { name: "echo", arguments: { word: "t" } }, TASKS);
    const opened = await request("tools/call", {
      name: VIEW_TOOLS.open,
      arguments: { tool: "echo", arguments: { word: "t" } },
    });
    expect((opened.structuredContent as { job: ViewJob }).job.jobId).toBe(task.taskId);
    const bad = await request("tools/call", {
      name: VIEW_TOOLS.open,
      arguments: { tool: "echo", arguments: {} },
    });
    expect(bad).toMatchObject({
      isError: true,
      content: [{ text: expect.stringMatching(/Invalid arguments/) }],
    });
  });

  it("lists the view to a 2025-11-25 client by what it declared at initialize", async () => {
    const runtime = await open();
    const list = async (capabilities: object) => {
      const server = new McpServer({ name: "echo", version: "0" });
      registerTools(server, runtime, { view: true });
      const [near, far] = InMemoryTransport.createLinkedPair();
      await server.connect(near);
      const client = new Client({ name: "host", version: "0" }, { capabilities });
      await client.connect(far);
      const { tools } = await client.listTools();
      await client.close();
      return tools as Listed[];
    };
    const host = await list(UI);
    expect(names(host)).toEqual(expect.arrayContaining(Object.values(VIEW_TOOLS)));
    expect(host.find((t) => t.name === "start_echo")?._meta).toMatchObject({
      ui: { resourceUri: JOB_VIEW_URI },
    });
    const plain = await list({});
    expect(names(plain)).toEqual(["await_echo", "cancel_echo", "echo", "probe_echo", "start_echo"]);
    expect(plain.find((t) => t.name === "start_echo")?._meta).toBeUndefined();
  });
});

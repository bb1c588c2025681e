import { PassThrough } from "node:stream";
import { McpServer } from "@modelcontextprotocol/server";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createAsyncTools, defineAsyncTool } from "../../index.ts";
import { registerTools } from "./register.ts";
import { serveStdio } from "./stdio.ts";

const echo = defineAsyncTool({
  name: "echo",
  description: "Echoes",
  input: z.object({ word: z.string() }),
  run: async (_ctx, { word }) => ({ word }),
});

function pipes() {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const lines: Record<string, unknown>[] = [];
  let pending = "";
  stdout.on("data", (chunk: Buffer) => {
    pending += chunk.toString();
    for (let at = pending.indexOf("\n"); at !== -1; at = pending.indexOf("\n")) {
      lines.push(JSON.parse(pending.slice(0, at)));
      pending = pending.slice(at + 1);
    }
  });
  return { stdin, stdout, lines, send: (message: unknown) => stdin.write(`${JSON.stringify(message)}\n`) };
}

const initialize = {
  jsonrpc: "2.0",
  id: 0,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "0" } },
};

function factory(runtime: Parameters<typeof registerTools>[1]) {
  const server = new McpServer({ name: "echo", version: "0" });
  registerTools(server, runtime);
  return server;
}

describe("serveStdio (v2)", () => {
  it("answers malformed lines instead of dropping them, and keeps serving", async () => {
    const io = pipes();
    const serving = serveStdio(factory, {
      runtime: { tools: [echo], store: "memory" },
      stdin: io.stdin,
      stdout: io.stdout,
      exitOnClose: false,
    });
    io.send(initialize);
    await expect.poll(() => io.lines.length).toBe(1);
    io.stdin.write("{not json\n");
    io.send({ jsonrpc: "2.0", id: 7, method: "tools/list", params: 5 });
    io.send({ jsonrpc: "2.0", id: 8, method: "tools/list", params: {} });
    await expect.poll(() => io.lines.length).toBe(4);
    expect(io.lines.slice(1)).toEqual([
      { jsonrpc: "2.0", id: null, error: expect.objectContaining({ code: -32700 }) },
      { jsonrpc: "2.0", id: 7, error: expect.objectContaining({ code: -32602 }) },
      expect.objectContaining({ id: 8, result: expect.objectContaining({ tools: expect.any(Array) }) }),
    ]);
    await serving.close();
  });

  it("closes a runtime it was given when stdin closes", async () => {
    const runtime = await createAsyncTools({ tools: [echo], store: "memory" });
    const io = pipes();
    const serving = serveStdio(factory, { runtime, stdin: io.stdin, stdout: io.stdout, exitOnClose: false });
    expect(await serving.runtime).toBe(runtime);
    io.send(initialize);
    await expect.poll(() => io.lines.length).toBe(1);
    io.stdin.end();
    const state = async () => {
      try {
        await runtime.probe(["echo-x"]);
        return "open";
      } catch {
        return "closed";
      }
    };
    await expect.poll(state).toBe("closed");
  });
});

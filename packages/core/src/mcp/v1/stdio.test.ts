import { PassThrough } from "node:stream";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { afterEach, describe, expect, it } from "vitest";
import { createStdioTransport } from "./stdio.ts";

const servers: McpServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

async function serve(maxLineBytes?: number) {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const lines: unknown[] = [];
  let pending = "";
  stdout.on("data", (chunk: Buffer) => {
    pending += chunk.toString();
    let newline = pending.indexOf("\n");
    while (newline !== -1) {
      lines.push(JSON.parse(pending.slice(0, newline)));
      pending = pending.slice(newline + 1);
      newline = pending.indexOf("\n");
    }
  });
  const server = new McpServer({ name: "guarded", version: "0" });
  server.registerTool("ping", { description: "pong" }, async () => ({
    content: [{ type: "text", text: "pong" }],
  }));
  servers.push(server);
  await server.connect(createStdioTransport({ stdin, stdout, ...(maxLineBytes ? { maxLineBytes } : {}) }));
  const send = (text: string) => stdin.write(text);
  const initialize = {
    jsonrpc: "2.0",
    id: 0,
    method: "initialize",
    params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "0" } },
  };
  send(`${JSON.stringify(initialize)}\n`);
  await expect.poll(() => lines.length).toBe(1);
  return { send, lines };
}

describe("the guarded stdio transport", () => {
  it("answers lines the SDK would drop, and keeps serving", async () => {
    const { send, lines } = await serve();
    send("{not json\n");
    send('{"jsonrpc":"2.0","id":7,"method":"tools/call","params":5}\n');
    send("[1,2]\n");
    send('{"jsonrpc":"2.0","method":"notifications/x","params":"nope"}\n');
    send('{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"ping","arguments":{}}}\n');
    await expect.poll(() => lines.length).toBe(5);
    expect(lines.slice(1)).toEqual([
      { jsonrpc: "2.0", id: null, error: expect.objectContaining({ code: -32700 }) },
      { jsonrpc: "2.0", id: 7, error: expect.objectContaining({ code: -32602 }) },
      { jsonrpc: "2.0", id: null, error: expect.objectContaining({ code: -32600 }) },
      expect.objectContaining({
        id: 8,
        result: expect.objectContaining({ content: [{ type: "text", text: "pong" }] }),
      }),
    ]);
  });

  it("skips a line over the limit with an error instead of going deaf", async () => {
    const { send, lines } = await serve(1024);
    send(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"junk":"${"x".repeat(5000)}"}}\n`);
    send('{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"ping","arguments":{}}}\n');
    await expect.poll(() => lines.length).toBe(3);
    expect(lines[1]).toEqual({ jsonrpc: "2.0", id: 1, error: expect.objectContaining({ code: -32600 }) });
    expect(lines[2]).toEqual(expect.objectContaining({ id: 2 }));
  });
});

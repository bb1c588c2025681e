import { Agent, request as httpRequest } from "node:http";
import type { Socket } from "node:net";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { INITIALIZE, MCP_HEADERS } from "@async-tools/test-helpers/mcp";
import { describe, expect, it } from "vitest";
import { squareTool } from "../../test/helpers.ts";
import { type AsyncTools, createAsyncTools } from "../index.ts";
import { createMcpHandler as v1Face } from "../mcp/v1/http-handler.ts";
import { createMcpHandler as v2Face } from "../mcp/v2/http-handler.ts";
import { createHttpHandler, type McpHandler, serveHttp } from "./index.ts";

const MiB = 2 ** 20;

/** A full garbage collection, so heap figures show what is held, not what is yet to be collected. */
function collect(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

describe.each([
  ["v1", v1Face],
  ["v2", v2Face],
] as const)("stateful sessions under abuse, %s face", (_face, face: (runtime: AsyncTools) => McpHandler) => {
  it("stays bounded when 3,000 sessions are opened and abandoned", async () => {
    await using runtime = await createAsyncTools({ store: "memory", tools: [squareTool({ runs: 0 })] });
    const cap = 100;
    // In-process (no sockets), so the test measures sessions, not connections.
    const http = createHttpHandler(runtime, { stateful: { maxSessions: cap }, mcp: face(runtime) });
    const open = async () => {
      const res = await http.fetch(
        new Request("http://127.0.0.1:3000/mcp", {
          method: "POST",
          headers: MCP_HEADERS,
          body: JSON.stringify(INITIALIZE),
        }),
      );
      expect(res.status).toBe(200);
      await res.text();
      expect(http.sessionCount).toBeLessThanOrEqual(cap);
    };
    try {
      for (let i = 0; i < 1000; i++) await open();
      collect();
      const warm = process.memoryUsage();
      for (let i = 0; i < 2000; i++) await open();
      collect();
      const after = process.memoryUsage();
      expect(http.sessionCount).toBe(cap);
      // Unbounded, each session holds about 160 KiB: 2,000 more would add over 300 MiB of heap.
      expect((after.heapUsed - warm.heapUsed) / MiB).toBeLessThan(20);
      // RSS also counts heap V8 reserved and has not returned yet, so its bound is loose; without the cap it
      // grows by about 500 MiB.
      expect((after.rss - warm.rss) / MiB).toBeLessThan(250);
    } finally {
      await http.close();
    }
    expect(http.sessionCount).toBe(0);
  }, 90_000);
});

describe("stateless 2026-07-28 requests under load", () => {
  it("holds nothing after 3,000 requests: no session, no open exchange, flat heap", async () => {
    await using runtime = await createAsyncTools({ store: "memory", tools: [squareTool({ runs: 0 })] });
    const http = createHttpHandler(runtime, { mcp: v2Face(runtime) });
    const _meta = {
      "io.modelcontextprotocol/protocolVersion": "2026-07-28",
      "io.modelcontextprotocol/clientInfo": { name: "load", version: "0" },
      "io.modelcontextprotocol/clientCapabilities": {},
    };
    const list = async (id: number) => {
      const res = await http.fetch(
        new Request("http://127.0.0.1:3000/mcp", {
          method: "POST",
          headers: { ...MCP_HEADERS, "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list" },
          body: JSON.stringify({ jsonrpc: "2.0", id, method: "tools/list", params: { _meta } }),
        }),
      );
      expect(res.status).toBe(200);
      expect(await res.text()).toContain("start_square");
    };
    for (let i = 0; i < 1000; i++) await list(i);
    // A turn of the event loop first: what the loop of awaits keeps alive until its job ends is not held state.
    await new Promise((resolve) => setImmediate(resolve));
    collect();
    const warm = process.memoryUsage();
    for (let i = 0; i < 2000; i++) await list(i);
    await new Promise((resolve) => setImmediate(resolve));
    collect();
    const after = process.memoryUsage();
    expect(http.openExchanges).toBe(0);
    expect(http.sessionCount).toBe(0);
    expect((after.heapUsed - warm.heapUsed) / MiB).toBeLessThan(5);
  }, 90_000);
});

describe.each([
  ["v1", v1Face],
  ["v2", v2Face],
] as const)("stateless requests over keep-alive sockets, %s face", (_face, face) => {
  it("holds nothing after 1,600 pings on 8 open connections", async () => {
    await using runtime = await createAsyncTools({ store: "memory", tools: [squareTool({ runs: 0 })] });
    await using server = await serveHttp(runtime, { port: 0, mcp: face(runtime) });
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const sockets = new Set<Socket>();
    const ping = (id: number) =>
      new Promise<void>((resolve, reject) => {
        const req = httpRequest(server.url, { method: "POST", agent, headers: MCP_HEADERS }, (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => {
            text += chunk;
          });
          res.on("end", () => {
            if (res.statusCode === 200 && text.includes('"result":{}')) resolve();
            else reject(new Error(`ping answered ${res.statusCode}: ${text}`));
          });
        });
        req.on("socket", (socket) => sockets.add(socket));
        req.on("error", reject);
        req.end(JSON.stringify({ jsonrpc: "2.0", id, method: "ping" }));
      });
    const burst = async (count: number) => {
      for (let i = 0; i < count; i += 8) await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map((k) => ping(i + k)));
    };
    try {
      await burst(200);
      collect();
      const warm = process.memoryUsage().heapUsed;
      await burst(1600);
      collect();
      const after = process.memoryUsage().heapUsed;
      // The connections stayed open throughout: the agent reused its 8 sockets.
      expect(sockets.size).toBe(8);
      expect(server.handler.openExchanges).toBe(0);
      // Held per request until its socket closed, each ping kept about 60 KiB: 1,600 of them about 95 MiB.
      expect((after - warm) / MiB).toBeLessThan(8);
    } finally {
      agent.destroy();
    }
  }, 180_000);
});

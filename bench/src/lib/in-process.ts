/**
 * A bench server and a client in this process, linked by the SDK's in-memory transports: the protocol
 * without a pipe, so what remains is the cost of the library itself.
 */
import type { AsyncTools } from "@async-tools/core";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { buildBenchServer, createBenchRuntime } from "./bench-server.ts";
import { startStdioServer } from "./child.ts";
import type { Caller } from "./mcp.ts";

/** Builds a bench server on `tools` (one McpServer per client, as HTTP sessions do) and connects a client. */
export async function connectInProcess(tools: AsyncTools): Promise<Caller> {
  const server = buildBenchServer(tools);
  const client = new Client({ name: "async-tools-bench", version: "0.0.0" });
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await Promise.all([server.connect(serverTransport), client.connect(clientTransport)]);
  return {
    call: async (name, args, timeoutMs = 60_000) =>
      (await client.callTool({ name, arguments: args }, undefined, { timeout: timeoutMs })) as CallToolResult,
    close: async () => {
      await client.close();
      await server.close();
    },
  };
}

/**
 * A caller of the bench server on `store`, in this process (over linked in-memory transports) or as a stdio
 * child process, with what closes it.
 */
export async function openCaller(
  transport: "in-memory" | "stdio",
  store: string,
): Promise<{ caller: Caller; close: () => Promise<void> }> {
  if (transport === "stdio") {
    const server = await startStdioServer({ store });
    return { caller: server, close: () => server.close() };
  }
  const tools = await createBenchRuntime(store);
  const caller = await connectInProcess(tools);
  return {
    caller,
    close: async () => {
      await caller.close();
      await tools.close();
    },
  };
}

/**
 * `@async-tools/core/testing`: test your async tools the way a model uses them, with no process and no file:
 * a real runtime on the in-memory store, a real McpServer (v1 SDK) and a real Client linked in memory.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult, ClientCapabilities } from "@modelcontextprotocol/sdk/types.js";
import type { AnyAsyncTool } from "../define.ts";
import { type RegisterToolsOptions, registerTools, serverOptions } from "../mcp/v1/register.ts";
import { type AsyncTools, type CreateAsyncToolsOptions, createAsyncTools } from "../runtime/runtime.ts";

/** A runtime, a server and a client connected in memory. Close it (or `await using` it) after the test. */
export interface InMemoryConnection {
  runtime: AsyncTools;
  server: McpServer;
  client: Client;
  /** Calls a tool as the model would; tool errors come back as `isError` results, not exceptions. */
  call(name: string, args: Record<string, unknown>): Promise<CallToolResult>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Options of {@link connectInMemory}: the runtime's (store defaults to `memory`) and the registration's. */
export type InMemoryOptions = Omit<CreateAsyncToolsOptions, "tools"> &
  RegisterToolsOptions & {
    /** What the client declares, e.g. `{ elicitation: {} }`. Task tools are listed whatever it declares. */
    clientCapabilities?: ClientCapabilities;
  };

/**
 * Runs `tools` on a fresh runtime and connects an MCP client to them in memory.
 *
 * @example
 * ```ts
 * import { connectInMemory } from "@async-tools/core/testing";
 *
 * await using c = await connectInMemory([slowSquare]);
 * const started = await c.call("start_slow_square", { n: 3 });
 * const done = await c.call("await_slow_square", { job_ids: [started.structuredContent?.job_id] });
 * ```
 */
export async function connectInMemory(
  tools: readonly AnyAsyncTool[],
  options: InMemoryOptions = {},
): Promise<InMemoryConnection> {
  const { jobTools, sharedNames, awaitTiming, clientCapabilities, ...runtimeOptions } = options;
  const runtime = await createAsyncTools({ store: "memory", ...runtimeOptions, tools });
  const server = new McpServer(
    { name: runtime.name ?? "test", version: "0.0.0" },
    { ...serverOptions(runtime) },
  );
  try {
    registerTools(server, runtime, {
      ...(jobTools === undefined ? {} : { jobTools }),
      ...(sharedNames === undefined ? {} : { sharedNames }),
      ...(awaitTiming === undefined ? {} : { awaitTiming }),
    });
  } catch (error) {
    await runtime.close();
    throw error;
  }
  const client = new Client(
    { name: "test-client", version: "0.0.0" },
    clientCapabilities === undefined ? {} : { capabilities: clientCapabilities },
  );
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await Promise.all([server.connect(serverTransport), client.connect(clientTransport)]);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await client.close();
    await server.close();
    await runtime.close();
  };
  return {
    runtime,
    server,
    client,
    call: async (name, args) => (await client.callTool({ name, arguments: args })) as CallToolResult,
    close,
    [Symbol.asyncDispose]: close,
  };
}

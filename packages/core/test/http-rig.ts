/**
 * Test rig of the HTTP face (not exported): a runtime with the counting `square` tool behind `serveHttp` on a
 * free port, with real MCP clients over Streamable HTTP.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterEach } from "vitest";
import { type HttpServer, type McpHandler, type ServeHttpOptions, serveHttp } from "../src/http/index.ts";
import { type AsyncTools, createAsyncTools } from "../src/index.ts";
import { squareTool } from "./helpers.ts";

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** A served runtime whose `square` tool counts its runs and, given `hold`, waits for it. */
export interface Rig {
  runtime: AsyncTools;
  server: HttpServer;
  counter: { runs: number };
  /** A connected client; `token` goes in `Authorization: Bearer`. */
  client(options?: {
    token?: string;
    scheme?: string;
    capabilities?: Record<string, unknown>;
  }): Promise<Client>;
}

/** `face` builds the MCP face over the rig's runtime (e.g. the v2 one); default: `serveHttp`'s own choice. */
export async function rig(
  options: ServeHttpOptions & { face?: (runtime: AsyncTools) => McpHandler } = {},
  hold?: Promise<void>,
): Promise<Rig> {
  const { face, ...serveOptions } = options;
  const counter = { runs: 0 };
  const runtime = await createAsyncTools({
    name: "http-test",
    store: "memory",
    tools: [squareTool(counter, hold)],
  });
  cleanup.push(() => runtime.close());
  const server = await serveHttp(runtime, {
    port: 0,
    ...serveOptions,
    ...(face === undefined ? {} : { mcp: face(runtime) }),
  });
  cleanup.push(() => server.close());
  return {
    runtime,
    server,
    counter,
    async client({ token, scheme = "Bearer", capabilities = {} } = {}) {
      const client = new Client({ name: "http-test", version: "0" }, { capabilities });
      const transport = new StreamableHTTPClientTransport(new URL(server.url), {
        ...(token ? { requestInit: { headers: { authorization: `${scheme} ${token}` } } } : {}),
      });
      await client.connect(transport);
      cleanup.push(() => client.close());
      return client;
    },
  };
}

/** Registers a cleanup step for the current test. */
export function onCleanup(step: () => Promise<unknown> | unknown): void {
  cleanup.push(step);
}

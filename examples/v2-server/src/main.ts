/**
 * A stdio MCP server on the v2 SDK: start_tally, probe_tally, await_tally, cancel_tally for every client,
 * and the task tool `tally` for clients of the 2026-07-28 Tasks extension. Jobs live in the store named by
 * ASYNC_TOOLS_STORE (default: a SQLite file in the user's data directory) and survive a crash.
 *
 *   pnpm --filter @async-tools/example-v2-server start
 */
import { registerTools, serveStdio } from "@async-tools/core/mcp-v2";
import { McpServer } from "@modelcontextprotocol/server";
import { tally } from "./tools.ts";

// The runtime's options, not an open runtime: the store opens only once a client does more than discover
// the server, so the discovery probe process of a v2 client never locks it or resumes a job.
serveStdio(
  (runtime) => {
    const server = new McpServer({ name: "tally", version: "0.0.0" });
    registerTools(server, runtime);
    return server;
  },
  { runtime: { name: "tally", tools: [tally] } },
);

/**
 * A stdio MCP server on the v2 SDK: start_tally, probe_tally, await_tally, cancel_tally for every client,
 * and the task tool `tally` for clients of the 2026-07-28 Tasks extension. Jobs live in the store named by
 * ASYNC_TOOLS_STORE (default: a SQLite file in the user's data directory) and survive a crash.
 *
 *   pnpm --filter @async-tools/example-v2-server start
 */
import { createAsyncTools } from "@async-tools/core";
import { registerTools, serveStdio } from "@async-tools/core/mcp-v2";
import { McpServer } from "@modelcontextprotocol/server";
import { tally } from "./tools.ts";

const runtime = await createAsyncTools({ name: "tally", tools: [tally] });

// One McpServer per connection, built in the era the client opens with (2026-07-28 or 2025-11-25).
serveStdio(
  () => {
    const server = new McpServer({ name: "tally", version: "0.0.0" });
    registerTools(server, runtime);
    return server;
  },
  { runtime },
);

#!/usr/bin/env node
/**
 * Transport wiring of the weather server: stdio (for Claude Desktop) by default, Streamable HTTP with
 * `--http`. Logs go to stderr; on stdio, stdout is the protocol.
 */
import { parseArgs } from "node:util";
import { createAsyncTools, createStdioTransport } from "@async-tools/core";
import { startHttp } from "./http.ts";
import { buildServer, SERVER_INFO } from "./server.ts";

const { values } = parseArgs({
  options: {
    http: { type: "boolean", default: false },
    port: { type: "string", default: "3000" },
    host: { type: "string", default: "127.0.0.1" },
    token: { type: "string" },
    store: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (values.help) {
  process.stderr.write(
    [
      "async-tools-weather: historic weather as durable MCP tools",
      "",
      "  async-tools-weather                  serve MCP over stdio (Claude Desktop)",
      "  async-tools-weather --http [--port 3000] [--host 127.0.0.1] [--token SECRET]",
      "                                       serve Streamable HTTP on /mcp",
      "  --store sqlite:PATH|memory|http://…  where jobs live (env ASYNC_TOOLS_STORE); default",
      `                                       <user data dir>/async-tools/${SERVER_INFO.name}/jobs.db`,
      "                                       (~/.local/share on Linux), shared by every process of this server",
      "",
      "Env: OPEN_METEO_ARCHIVE_URL (default Open-Meteo's archive), ASYNC_TOOLS_LOG=debug|info|warn|error",
      "",
    ].join("\n"),
  );
  process.exit(0);
}

async function main(): Promise<void> {
  const tools = await createAsyncTools({
    name: SERVER_INFO.name,
    ...(values.store === undefined ? {} : { store: values.store }),
  });
  process.stderr.write(`async-tools-weather: jobs are stored in ${tools.store.description}\n`);
  const shutdown = async () => {
    await tools.close().catch(() => undefined);
    process.exit(0);
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);

  if (values.http) {
    const port = Number(values.port);
    const token = values.token ?? process.env.ASYNC_TOOLS_HTTP_TOKEN;
    const http = await startHttp({
      port,
      host: values.host,
      ...(token ? { token } : {}),
      build: async () => (await buildServer({ tools })).server,
    });
    process.stderr.write(`async-tools-weather: listening on ${http.url}\n`);
    return;
  }
  const { server } = await buildServer({ tools });
  await server.connect(createStdioTransport());
  process.stdin.once("end", shutdown);
}

main().catch((error: unknown) => {
  process.stderr.write(`async-tools-weather: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

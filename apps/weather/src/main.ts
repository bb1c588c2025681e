#!/usr/bin/env node
/**
 * Transport wiring of the weather server: stdio (for Claude Desktop) by default, Streamable HTTP with
 * `--http`. Logs go to stderr; on stdio, stdout is the protocol.
 */
import { parseArgs } from "node:util";
import { serveHttp, tokenAuth } from "@async-tools/core/http";
import { createMcpHandler, createStdioTransport } from "@async-tools/core/mcp-v1";
import { buildServer, createWeatherRuntime } from "./server.ts";

const { values } = parseArgs({
  options: {
    http: { type: "boolean", default: false },
    port: { type: "string", default: "3000" },
    host: { type: "string", default: "127.0.0.1" },
    token: { type: "string", multiple: true },
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
      "  --store sqlite:PATH|memory|http://…  where jobs live (env ASYNC_TOOLS_STORE)",
      "",
      "Env: OPEN_METEO_ARCHIVE_URL (default Open-Meteo's archive), ASYNC_TOOLS_LOG=debug|info|warn|error",
      "",
    ].join("\n"),
  );
  process.exit(0);
}

async function main(): Promise<void> {
  // Jobs interrupted by a crash resume from here on, whether or not a client ever connects.
  const runtime = await createWeatherRuntime(values.store === undefined ? {} : { store: values.store });
  process.stderr.write(`async-tools-weather: jobs are stored in ${runtime.store.description}\n`);
  const shutdown = async () => {
    await runtime.close().catch(() => undefined);
    process.exit(0);
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);

  if (values.http) {
    const env = process.env.ASYNC_TOOLS_HTTP_TOKEN;
    const auth = tokenAuth(values.token ?? (env ? [env] : []));
    const http = await serveHttp(runtime, {
      port: Number(values.port),
      host: values.host,
      ...(auth === undefined ? {} : { auth }),
      mcp: createMcpHandler(runtime, { server: () => buildServer(runtime) }),
    });
    process.stderr.write(`async-tools-weather: listening on ${http.url}\n`);
    return;
  }
  await buildServer(runtime).connect(createStdioTransport({ runtime }));
}

main().catch((error: unknown) => {
  process.stderr.write(`async-tools-weather: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

/**
 * The bench server as a process: MCP over stdio by default, Streamable HTTP on 127.0.0.1 with `--http`
 * (`serveHttp`, stateful). Jobs live in `ASYNC_TOOLS_STORE`; the stepped jobs write their side effects to
 * `BENCH_SIDE_EFFECTS`. `BENCH_LEASE_MS`, `BENCH_UPSTREAM`, `BENCH_UPSTREAM_CONCURRENCY` and `BENCH_VERSIONS`
 * shape the runtime (see bench-server.ts).
 */
import { parseArgs } from "node:util";
import { createMcpHandler, createStdioTransport } from "@async-tools/core/mcp-v1";
import { buildBenchServer, createBenchRuntime } from "./bench-server.ts";

const { values } = parseArgs({
  options: {
    http: { type: "boolean", default: false },
    port: { type: "string", default: "0" },
  },
});

async function main(): Promise<void> {
  const tools = await createBenchRuntime(process.env.ASYNC_TOOLS_STORE ?? "memory");
  const shutdown = async () => {
    await tools.close().catch(() => undefined);
    process.exit(0);
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);

  if (values.http) {
    // Loaded only here: a stdio server (the recovery benchmark restarts one) starts without the HTTP stack.
    const { serveHttp } = await import("@async-tools/core/http");
    const http = await serveHttp(tools, {
      port: Number(values.port),
      // The reliability suite drives sessions (fuzzing with and without one, 100 concurrent clients).
      stateful: true,
      mcp: createMcpHandler(tools, { server: () => buildBenchServer(tools) }),
    });
    process.stderr.write(`async-tools-bench: listening on ${http.url}\n`);
    return;
  }
  await buildBenchServer(tools).connect(createStdioTransport({ runtime: tools }));
}

main().catch((error: unknown) => {
  process.stderr.write(`async-tools-bench: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

/**
 * The weather server on the v2 MCP SDK (`@modelcontextprotocol/server`): the same tools as `buildServer`,
 * served to 2026-07-28 and 2025-11-25 clients over stdio or Streamable HTTP (`--sdk v2`).
 */
import type { AsyncTools } from "@async-tools/core";
import type { McpHandler } from "@async-tools/core/http";
import {
  createMcpHandler,
  type RegisterToolsOptions,
  registerTools,
  type StdioServing,
  serveStdio,
} from "@async-tools/core/mcp-v2";
import { McpServer } from "@modelcontextprotocol/server";
import { INSTRUCTIONS, SERVER_INFO, type WeatherRuntimeOptions, weatherRuntimeOptions } from "./server.ts";

/**
 * Builds a weather McpServer on the v2 SDK (not yet connected) over `runtime`, with the job view for hosts
 * with MCP Apps (a month's chart and table beside each gathering; `view: false` leaves it out).
 */
export function buildServerV2(runtime: AsyncTools, options: RegisterToolsOptions = {}): McpServer {
  const server = new McpServer(SERVER_INFO, { instructions: INSTRUCTIONS });
  registerTools(server, runtime, { view: true, ...options });
  return server;
}

/** The v2 face of an open weather runtime, for `serveHttp`. */
export function weatherHandlerV2(runtime: AsyncTools): McpHandler {
  return createMcpHandler(runtime, { server: () => buildServerV2(runtime) });
}

/**
 * Serves the weather tools over stdio on the v2 SDK. The runtime opens on the first request that is not a
 * `server/discover` probe: a v2 Client starts the command twice, and the probe process must not take the store.
 */
export function serveWeatherStdioV2(options: WeatherRuntimeOptions = {}): StdioServing {
  return serveStdio((runtime) => buildServerV2(runtime), { runtime: weatherRuntimeOptions(options) });
}

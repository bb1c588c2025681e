/**
 * `@async-tools/core/mcp-v1`: the face for the v1 MCP SDK (`@modelcontextprotocol/sdk`, protocol
 * 2025-11-25). Import it only where that SDK is installed.
 */

export type { SharedJobToolNames } from "../job-tools.ts";
export { createMcpHandler, type McpHandlerOptions } from "./http-handler.ts";
export {
  type AsyncToolsServerOptions,
  type RegisterToolsOptions,
  registerTools,
  serverOptions,
} from "./register.ts";
export { createStdioTransport, type StdioTransportOptions } from "./stdio.ts";

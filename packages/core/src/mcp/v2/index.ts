/**
 * `@async-tools/core/mcp-v2`: the face for the v2 MCP SDK (`@modelcontextprotocol/server`, protocols
 * 2025-11-25 and 2026-07-28, with MCP Tasks in both). Import it only where that SDK is installed.
 */

export type { JobToolsOptions, SharedJobToolNames } from "../job-tools.ts";
export { createMcpHandler, type McpHandlerOptions } from "./http-handler.ts";
export { type RegisterToolsOptions, registerTools } from "./register.ts";
export {
  type RuntimeServerFactory,
  type ServeStdioV2Options,
  type StdioServing,
  serveStdio,
} from "./stdio.ts";
export { TASKS_EXTENSION } from "./tasks-extension.ts";
export { JOB_VIEW_URI, type JobViewOptions, UI_EXTENSION } from "./view/job-view.ts";
export { VIEW_TOOLS } from "./view/protocol.ts";

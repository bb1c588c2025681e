/**
 * Native MCP Tasks on the same durable jobs (filled in by the Tasks work; a no-op until then).
 */
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { z } from "zod";
import type { AsyncTool } from "../define-async-tool.ts";
import type { JobEngine } from "../jobs.ts";

/** Exposes `tool` as a task-capable tool on `server`. */
export function registerTaskTools(
  _server: McpServer,
  _tool: AsyncTool<z.ZodObject, unknown>,
  _engine: JobEngine,
): void {}

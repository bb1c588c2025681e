/**
 * Which MCP face `serveHttp` uses when none is given. Both SDK generations are optional peers, so the faces
 * are imported only when chosen: a project with only one installed never loads the other.
 */
import { AsyncToolsError } from "../errors.ts";
import type { McpHandler } from "../mcp/http-channel.ts";
import type { AsyncTools } from "../runtime/runtime.ts";

/** Loads a face module; a test swaps it to play a project where one SDK is missing. */
export type FaceLoader = (generation: "v1" | "v2") => Promise<{
  createMcpHandler(runtime: AsyncTools): McpHandler;
}>;

const loadFace: FaceLoader = (generation) =>
  generation === "v1" ? import("../mcp/v1/http-handler.ts") : import("../mcp/v2/http-handler.ts");

/**
 * The default face: v1 (`@modelcontextprotocol/sdk`) when it is installed, as before the v2 face existed;
 * else v2 (`@modelcontextprotocol/server`), which also serves 2025-11-25 clients. Neither: a configuration
 * error that says what to install.
 */
export async function defaultMcpHandler(
  runtime: AsyncTools,
  load: FaceLoader = loadFace,
): Promise<McpHandler> {
  const causes: unknown[] = [];
  for (const generation of ["v1", "v2"] as const) {
    try {
      return (await load(generation)).createMcpHandler(runtime);
    } catch (error) {
      if (!isMissingModule(error)) throw error;
      causes.push(error);
    }
  }
  throw new AsyncToolsError(
    "INVALID_CONFIG",
    "Serving over HTTP needs an MCP SDK: install @modelcontextprotocol/server (v2) or @modelcontextprotocol/sdk (v1).",
    { cause: new AggregateError(causes) },
  );
}

function isMissingModule(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND";
}

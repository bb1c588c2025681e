/**
 * Every reach into private parts of `@modelcontextprotocol/sdk` (v1) lives here, each checked so an SDK
 * change fails loudly in tests: the task store an McpServer was built with and wrapping the handlers
 * the McpServer installs.
 */
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { AsyncToolsError } from "../../errors.ts";

type RawHandler = (
  request: { method: string; params?: Record<string, unknown> },
  extra: unknown,
) => Promise<unknown>;

/** The task store `server` was built with, if any. The SDK keeps it private and offers no getter. */
export function taskStoreOf(server: McpServer): unknown {
  return (server.server as unknown as { _taskStore?: unknown })._taskStore;
}

/**
 * Replaces the handler of `method` (already installed by the McpServer) with `wrap(original)`. Runs before
 * the SDK parses the request, so the wrapper sees the raw params.
 */
export function wrapRequestHandler(
  server: McpServer,
  method:
    | "initialize"
    | "tools/list"
    | "tools/call"
    | "tasks/get"
    | "tasks/result"
    | "tasks/list"
    | "tasks/cancel",
  wrap: (original: RawHandler) => RawHandler,
): void {
  const handlers = (server.server as unknown as { _requestHandlers?: Map<string, RawHandler> })
    ._requestHandlers;
  const original = handlers?.get(method);
  if (handlers === undefined || original === undefined) {
    throw new AsyncToolsError(
      "SDK_MISMATCH",
      `@modelcontextprotocol/sdk changed: no ${method} handler to wrap on McpServer.server. Use a version @async-tools/core supports.`,
    );
  }
  handlers.set(method, wrap(original));
}

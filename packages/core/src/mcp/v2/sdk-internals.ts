/**
 * Every reach into private parts of `@modelcontextprotocol/server` (v2) lives here, each checked so an SDK
 * change fails loudly in tests: wrapping the `initialize`, `tools/list` and `tools/call` handlers the McpServer
 * and its Server install, and the `resources/list` one of a server with resources.
 * The wrapper runs outside the SDK's `tools/call` result check, which knows only complete results, so a
 * task-shaped result (`resultType: "task"`, Tasks extension) can pass; the era's encoder still stamps it.
 */
import type { McpServer, ServerContext } from "@modelcontextprotocol/server";
import { AsyncToolsError } from "../../errors.ts";

/** A request handler as the v2 Protocol stores it: the parsed request and the handler context. */
export type RawHandler = (
  request: { method: string; params?: Record<string, unknown> },
  ctx: ServerContext,
) => Promise<unknown>;

/**
 * Replaces the stored handler of `method` (already installed by the McpServer) with `wrap(original)`. The
 * original keeps the SDK's own validation; the wrapper sees the request after the envelope was lifted out
 * of `_meta` into `ctx.mcpReq.envelope`.
 */
export function wrapRequestHandler(
  server: McpServer,
  method: "initialize" | "tools/list" | "tools/call" | "resources/list",
  wrap: (original: RawHandler) => RawHandler,
): void {
  const handlers = (server.server as unknown as { _requestHandlers?: Map<string, RawHandler> })
    ._requestHandlers;
  const original = handlers?.get(method);
  if (handlers === undefined || original === undefined) {
    throw new AsyncToolsError(
      "SDK_MISMATCH",
      `@modelcontextprotocol/server changed: no ${method} handler to wrap on McpServer.server. Use a version @async-tools/core supports.`,
    );
  }
  handlers.set(method, wrap(original));
}

/**
 * Every reach into private parts of `@modelcontextprotocol/sdk` (v1) lives here, each checked so an SDK
 * change fails loudly in tests: the task store an McpServer was built with, wrapping the handlers the
 * McpServer installs, and whether a Streamable HTTP session has its GET stream open.
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

/**
 * Whether the server can send `server`'s client a request of its own (not related to a request of the client)
 * now: always over stdio and in memory; over Streamable HTTP only in a session whose standalone GET stream is
 * open, since the SDK's transport silently drops what it cannot send there. An SDK whose transport no longer
 * has the fields read here gets `false`: the client is then asked only while it waits in a call.
 */
export function canSendAnytime(server: McpServer): boolean {
  const transport = server.server.transport as
    | {
        handleRequest?: unknown;
        sessionId?: string;
        _streamMapping?: unknown;
        _standaloneSseStreamId?: string;
      }
    | undefined;
  if (transport === undefined) return false;
  if (transport.handleRequest === undefined) return true;
  const streams = transport._streamMapping;
  return (
    transport.sessionId !== undefined &&
    streams instanceof Map &&
    transport._standaloneSseStreamId !== undefined &&
    streams.has(transport._standaloneSseStreamId)
  );
}

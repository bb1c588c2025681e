/**
 * The v2 face over HTTP, for `serveHttp` (`@async-tools/core/http`): one endpoint serves both protocol
 * generations. 2026-07-28 requests (the `_meta` envelope on each) and stateless 2025-11-25 requests go through
 * the SDK's own per-request entry (`createMcpHandler`); a stateful 2025-11-25 session gets a v2 McpServer on the
 * SDK's web-standard Streamable HTTP transport, as the v1 face does. Routing, auth, Host/Origin checks and the
 * session table stay in `serveHttp`, so both faces share them.
 */
import {
  isLegacyRequest,
  type McpRequestContext,
  McpServer,
  createMcpHandler as sdkCreateMcpHandler,
  WebStandardStreamableHTTPServerTransport,
} from "@modelcontextprotocol/server";
import { DEFAULTS_HTTP } from "../../defaults.ts";
import { log } from "../../internal/log.ts";
import type { AsyncTools } from "../../runtime/runtime.ts";
import type { HttpAuthInfo, McpChannel, McpHandler } from "../http-channel.ts";
import { principalOf } from "../principal.ts";
import { extensionTasksOf, type RegisterToolsOptions, registerTools } from "./register.ts";
import { followTasks, listenRefusal, type TaskListen, taskListenOf } from "./task-subscriptions.ts";

/** Options of {@link createMcpHandler}. */
export interface McpHandlerOptions extends RegisterToolsOptions {
  /**
   * Builds the server of one exchange or session, not yet connected: for your own instructions, extra tools
   * or resources. `context.era` says which generation it serves and `context.authInfo` who calls. Default: an
   * McpServer named after the runtime with `registerTools(server, runtime, options)`.
   */
  server?: (context: McpRequestContext) => McpServer | Promise<McpServer>;
  /** Name and version announced by the default server. Default: the runtime's name, version `0.0.0`. */
  serverInfo?: { name: string; version: string };
}

/**
 * The v2 MCP face for `serveHttp`: 2026-07-28 clients (`server/discover`, an envelope on every request) and
 * 2025-11-25 clients (`initialize`) on one endpoint. Stateless by default; with `stateful`, 2025-11-25 clients
 * get sessions and 2026-07-28 requests, which carry their state in each request, are answered without one.
 * `serveHttp` picks this face by itself when only `@modelcontextprotocol/server` is installed.
 *
 * @example
 * ```ts
 * import { serveHttp } from "@async-tools/core/http";
 * import { createMcpHandler } from "@async-tools/core/mcp-v2";
 *
 * await serveHttp(runtime, { port: 3000, mcp: createMcpHandler(runtime) });
 * ```
 */
export function createMcpHandler(runtime: AsyncTools, options: McpHandlerOptions = {}): McpHandler {
  const { server: build, serverInfo, ...register } = options;
  const info = serverInfo ?? { name: runtime.name ?? "async-tools", version: "0.0.0" };
  const newServer =
    build ??
    (() => {
      const server = new McpServer(info);
      registerTools(server, runtime, register);
      return server;
    });
  const onerror = (error: Error) => log("debug", "mcp-v2 http", { error: error.message });
  // The Tasks extension of the server a request would get: only its task service is used, never the server.
  const tasksOfNewServer = async (request: Request, authInfo: HttpAuthInfo | undefined) => {
    const server = await newServer({
      era: "modern",
      requestInfo: request,
      ...(authInfo === undefined ? {} : { authInfo }),
    });
    const tasks = extensionTasksOf(server);
    await server.close().catch(() => undefined);
    return tasks;
  };
  return {
    async open({ sessionId, onSessionClosed }): Promise<McpChannel> {
      if (sessionId === undefined) {
        // One SDK entry per exchange, closed with it: the SDK builds the server of the request's era, streams
        // progress as SSE when a handler notifies before its result, and keeps nothing afterwards.
        const entry = sdkCreateMcpHandler(newServer, { onerror });
        return {
          handle: async (request, { parsedBody, authInfo }) => {
            const listen = taskListenOf(parsedBody);
            const tasks = listen === undefined ? undefined : await tasksOfNewServer(request, authInfo);
            if (listen !== undefined && tasks !== undefined) {
              return taskListenResponse(listen, request.signal, (sink, signal) =>
                followTasks(tasks, listen, callerOf(authInfo), sink, { signal }),
              );
            }
            return entry.fetch(request, {
              ...(parsedBody === undefined ? {} : { parsedBody }),
              ...(authInfo === undefined ? {} : { authInfo }),
            });
          },
          close: () => entry.close(),
        };
      }
      // Only 2025-11-25 has sessions; `sessionless` sends 2026-07-28 requests to the branch above.
      const transport = new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: () => sessionId,
        ...(onSessionClosed === undefined ? {} : { onsessionclosed: () => onSessionClosed() }),
      });
      let server: McpServer | undefined;
      return {
        handle: async (request, { parsedBody, authInfo }) => {
          if (server === undefined) {
            server = await newServer({
              era: "legacy",
              requestInfo: request,
              ...(authInfo === undefined ? {} : { authInfo }),
            });
            await server.connect(transport);
          }
          return transport.handleRequest(request, {
            ...(parsedBody === undefined ? {} : { parsedBody }),
            ...(authInfo === undefined ? {} : { authInfo }),
          });
        },
        close: async () => {
          await (server === undefined ? transport.close() : server.close());
        },
      };
    },
    // The SDK's own classification, so this face and the SDK entry never disagree on a request's era.
    sessionless: async (request, parsedBody) => !(await isLegacyRequest(request, parsedBody)),
  };
}

function callerOf(authInfo: HttpAuthInfo | undefined): { principal?: string } {
  const principal = principalOf(authInfo);
  return principal === undefined ? {} : { principal };
}

/**
 * A `subscriptions/listen` for task IDs over Streamable HTTP: its refusal as a JSON-RPC error (HTTP 400 for a
 * missing capability, as the SDK answers one), or an SSE stream of the acknowledgement and the task
 * notifications that ends with the subscription; the client closing the stream ends the subscription.
 */
function taskListenResponse(
  listen: TaskListen,
  requestSignal: AbortSignal,
  follow: (sink: (message: object) => Promise<void>, signal: AbortSignal) => Promise<void>,
): Response {
  const refusal = listenRefusal(listen);
  if (refusal !== undefined) {
    return Response.json(
      { jsonrpc: "2.0", id: listen.id, error: refusal },
      { status: refusal.code === -32021 ? 400 : 200 },
    );
  }
  const stop = new AbortController();
  const signal = AbortSignal.any([stop.signal, requestSignal]);
  const encoder = new TextEncoder();
  let keepAlive: NodeJS.Timeout | undefined;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const write = (text: string) => {
        if (!signal.aborted) controller.enqueue(encoder.encode(text));
      };
      keepAlive = setInterval(() => write(": keepalive\n\n"), DEFAULTS_HTTP.sseKeepAliveMs);
      keepAlive.unref();
      void follow(async (message) => write(`event: message\ndata: ${JSON.stringify(message)}\n\n`), signal)
        .catch((error: unknown) => log("warn", "http: a task subscription ended", { error: String(error) }))
        .finally(() => {
          clearInterval(keepAlive);
          try {
            controller.close();
          } catch {
            // Already cancelled by the client.
          }
        });
    },
    cancel() {
      clearInterval(keepAlive);
      stop.abort();
    },
  });
  return new Response(body, {
    status: 200,
    headers: { "content-type": "text/event-stream", "cache-control": "no-cache, no-transform" },
  });
}

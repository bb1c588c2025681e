/**
 * The v1 face over HTTP: opens a fresh `McpServer` with the runtime's tools on the SDK's web-standard
 * Streamable HTTP transport, for `serveHttp` (`@async-tools/core/http`).
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { AsyncTools } from "../../runtime/runtime.ts";
import type { McpChannel, McpHandler } from "../http-channel.ts";
import { type RegisterToolsOptions, registerTools, serverOptions } from "./register.ts";

/** Options of {@link createMcpHandler}. */
export interface McpHandlerOptions extends RegisterToolsOptions {
  /**
   * Builds the server for one exchange or session, not yet connected: for your own instructions, extra tools
   * or resources. Default: an McpServer named after the runtime, with `serverOptions(runtime)` and
   * `registerTools(server, runtime, options)`.
   */
  server?: () => McpServer;
  /** Name and version announced by the default server. Default: the runtime's name, version `0.0.0`. */
  serverInfo?: { name: string; version: string };
}

/**
 * The v1 MCP face for `serveHttp`: a fresh McpServer and transport per stateless exchange or stateful session.
 *
 * @example
 * ```ts
 * import { serveHttp } from "@async-tools/core/http";
 * import { createMcpHandler } from "@async-tools/core/mcp-v1";
 *
 * await serveHttp(runtime, { mcp: createMcpHandler(runtime, { server: () => buildServer(runtime) }) });
 * ```
 */
export function createMcpHandler(runtime: AsyncTools, options: McpHandlerOptions = {}): McpHandler {
  const { server: build, serverInfo, ...register } = options;
  const info = serverInfo ?? { name: runtime.name ?? "async-tools", version: "0.0.0" };
  const newServer =
    build ??
    (() => {
      const server = new McpServer(info, { ...serverOptions(runtime) });
      registerTools(server, runtime, register);
      return server;
    });
  return {
    async open({ sessionId, onSessionClosed }): Promise<McpChannel> {
      // Loaded on first use: a stdio server imports this entry too, and should not pay for HTTP at start-up.
      const { WebStandardStreamableHTTPServerTransport } = await import(
        "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js"
      );
      const transport = new WebStandardStreamableHTTPServerTransport({
        ...(sessionId === undefined ? {} : { sessionIdGenerator: () => sessionId }),
        ...(onSessionClosed === undefined ? {} : { onsessionclosed: () => onSessionClosed() }),
      });
      const server = newServer();
      await server.connect(transport);
      return {
        handle: (request, { parsedBody, authInfo }) =>
          transport.handleRequest(request, {
            ...(parsedBody === undefined ? {} : { parsedBody }),
            ...(authInfo === undefined ? {} : { authInfo }),
          }),
        close: async () => {
          await server.close();
        },
      };
    },
  };
}

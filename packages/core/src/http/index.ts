/**
 * `@async-tools/core/http`: serve async tools over MCP Streamable HTTP (stateless by default, stateful as an
 * option) with health checks, DNS-rebinding protection, static bearer tokens or OAuth, and jobs bound to
 * their caller. MCP itself goes through a face of either SDK generation: `createMcpHandler` from
 * `@async-tools/core/mcp-v1` or `@async-tools/core/mcp-v2`; by default v1 when it is installed, else v2.
 */

export type { HttpAuthInfo, McpChannel, McpHandler, OpenChannelOptions } from "../mcp/http-channel.ts";
export { principalOf } from "../mcp/principal.ts";
export {
  bearerToken,
  type HttpAuth,
  type OAuthResourceOptions,
  type TokenVerifier,
  tokenAuth,
} from "./auth.ts";
export {
  createHttpHandler,
  type ExtraRoute,
  type HandlerAddress,
  type HttpHandler,
  type HttpHandlerOptions,
  PRINCIPAL_HEADER,
  type StatefulOptions,
} from "./handler.ts";
export { type HttpServer, type ServeHttpOptions, serveHttp } from "./serve-http.ts";

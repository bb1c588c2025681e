/**
 * The HTTP channel of an MCP face: the seam between HTTP serving (`http/`, above) and an MCP SDK generation
 * (`mcp/v1`, `mcp/v2`). `serveHttp` routes, authenticates and keeps sessions; an {@link McpHandler} only opens a
 * fresh MCP server and transport when asked, so each generation plugs in with one small object.
 */

/**
 * What an authenticated request carries into MCP: the same shape as the SDK's `AuthInfo` (both generations),
 * so a verifier written for the SDK returns it unchanged.
 */
export interface HttpAuthInfo {
  token: string;
  clientId: string;
  scopes: string[];
  /** Seconds since the epoch. */
  expiresAt?: number;
  resource?: URL;
  extra?: Record<string, unknown>;
}

/** One MCP server with its transport, answering the HTTP requests of one exchange or one session. */
export interface McpChannel {
  /**
   * Answers one HTTP request (POST, GET or DELETE on the MCP endpoint). `parsedBody` is the POST body,
   * already read and size-checked by `serveHttp`.
   */
  handle(request: Request, options: { parsedBody?: unknown; authInfo?: HttpAuthInfo }): Promise<Response>;
  /** Closes the transport and the server; in-flight handlers are aborted. */
  close(): Promise<void>;
}

/** Options of {@link McpHandler.open}. */
export interface OpenChannelOptions {
  /** Stateful: the session ID the transport must announce. Absent: stateless, no session. */
  sessionId?: string;
  /** Stateful: called when the client ends the session (HTTP DELETE). */
  onSessionClosed?: () => void;
}

/**
 * Opens MCP channels for `serveHttp`: a fresh server and transport per call. One per SDK generation:
 * `createMcpHandler(runtime)` from `@async-tools/core/mcp-v1` or from `@async-tools/core/mcp-v2`.
 */
export interface McpHandler {
  open(options: OpenChannelOptions): Promise<McpChannel>;
  /**
   * Stateful mode: whether a request that names no session is answered without one (as in stateless mode)
   * instead of being refused. The v2 face says yes for 2026-07-28 requests, which carry their state in each
   * request and have no sessions. Absent: never.
   */
  sessionless?(request: Request, parsedBody: unknown): Promise<boolean>;
}

/**
 * Reading tool results in tests, and raw requests for what real clients never send: a 2026-07-28 request
 * straight into an HTTP handler, and node:http requests with any header.
 */
import { request as httpRequest } from "node:http";

/** The parts of a tool result the helpers read (the SDKs' `CallToolResult` fits). */
export interface ToolResultLike {
  content?: { type: string; text?: string }[];
  structuredContent?: Record<string, unknown> | undefined;
  isError?: boolean | undefined;
}

/** The structuredContent of a successful tool result (fails the test on an error result). */
export function structured<T = Record<string, unknown>>(result: unknown): T {
  const r = result as ToolResultLike;
  if (r.isError) throw new Error(`tool error: ${JSON.stringify(r.content)}`);
  return r.structuredContent as T;
}

/** The text of a tool result, its text blocks joined by newlines. */
export function textOf(result: unknown): string {
  return ((result as ToolResultLike).content ?? [])
    .map((c) => (c.type === "text" ? (c.text ?? "") : ""))
    .join("\n");
}

/** The text of an error result (fails the test on a success). */
export function errorText(result: unknown): string {
  const r = result as ToolResultLike;
  if (!r.isError) throw new Error(`expected an error, got ${JSON.stringify(r.structuredContent)}`);
  return textOf(r);
}

/** The headers a Streamable HTTP client sends with a JSON-RPC POST. */
export const MCP_HEADERS = {
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
};

/** An `initialize` request of a 2025-11-25 client, as raw JSON-RPC. */
export const INITIALIZE = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "0" } },
};

/** An HTTP handler of the v2 SDK's shape: `createMcpHandler(…).fetch`. */
export type McpFetch = (
  request: Request,
  extra: { authInfo: { token: string; clientId: string; scopes: string[]; extra: Record<string, unknown> } },
) => Promise<Response>;

/** A JSON-RPC answer, as a test reads it. */
export interface JsonRpcAnswer {
  result?: Record<string, unknown> & { structuredContent?: Record<string, unknown>; isError?: boolean };
  error?: { code: number; message: string };
}

/**
 * One stateless 2026-07-28 request after another into `fetch`, each as `principal` (the bearer token's
 * subject) from `clientName` with `capabilities`; resolves with the JSON-RPC answer.
 */
export function statelessCaller(
  fetch: McpFetch,
): (
  request: { method: string; params: Record<string, unknown> },
  as: { principal: string; clientName?: string; capabilities?: object },
) => Promise<JsonRpcAnswer> {
  let id = 0;
  return async ({ method, params }, { principal, clientName = principal, capabilities = {} }) => {
    id += 1;
    const _meta = {
      "io.modelcontextprotocol/protocolVersion": "2026-07-28",
      "io.modelcontextprotocol/clientInfo": { name: clientName, version: "0" },
      "io.modelcontextprotocol/clientCapabilities": capabilities,
    };
    const name = params.name ?? params.uri ?? params.taskId;
    const response = await fetch(
      new Request("http://127.0.0.1/mcp", {
        method: "POST",
        headers: {
          ...MCP_HEADERS,
          "mcp-protocol-version": "2026-07-28",
          "mcp-method": method,
          ...(typeof name === "string" ? { "mcp-name": name } : {}),
        },
        body: JSON.stringify({ jsonrpc: "2.0", id, method, params: { ...params, _meta } }),
      }),
      { authInfo: { token: principal, clientId: "host", scopes: [], extra: { sub: principal } } },
    );
    return (await response.json()) as JsonRpcAnswer;
  };
}

/**
 * A raw request through node:http, which (unlike fetch) may set any Host header, as a DNS-rebinding page's
 * browser would. Returns the status, the headers and the body text.
 */
export function raw(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? "POST", headers: options.headers ?? {} });
    req.on("response", (res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => {
        body += chunk.toString();
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end(options.body);
  });
}

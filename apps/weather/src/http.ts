/**
 * Streamable HTTP wiring: one MCP session per client on `/mcp`, bound to 127.0.0.1 by default, with DNS
 * rebinding protection and an optional bearer token.
 */
import { randomUUID, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";

/** Where and how to serve. */
export interface HttpOptions {
  port: number;
  host?: string;
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  token?: string;
  /** Builds a fresh McpServer for a new session (they all share one set of async tools). */
  build: () => Promise<McpServer>;
}

/** A running HTTP endpoint. */
export interface HttpEndpoint extends AsyncDisposable {
  url: string;
  close(): Promise<void>;
}

function authorized(req: IncomingMessage, token: string | undefined): boolean {
  if (token === undefined) return true;
  const header = req.headers.authorization ?? "";
  const expected = Buffer.from(`Bearer ${token}`);
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function reply(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message }, id: null }));
}

const MAX_BODY = 4 * 1024 * 1024;
/** Past this, a client still uploading is cut off rather than drained. */
const MAX_DRAIN = 64 * 1024 * 1024;

/** Reads a JSON body; `undefined` when it was too large (the rest is drained so the answer arrives whole). */
async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_DRAIN) {
      req.destroy();
      break;
    }
    if (size <= MAX_BODY) chunks.push(chunk as Buffer);
  }
  if (size > MAX_BODY) return TOO_LARGE;
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

const TOO_LARGE = Symbol("too large");

/**
 * Serves MCP over Streamable HTTP on `http://host:port/mcp`: one session (and one McpServer from `build`)
 * per client, DNS rebinding protection, and a bearer token when `token` is set.
 *
 * @example
 * ```ts
 * const runtime = await createWeatherRuntime();
 * await using http = await startHttp({ port: 3000, build: async () => buildServer(runtime) });
 * console.error(`listening on ${http.url}`);
 * ```
 */
export async function startHttp(options: HttpOptions): Promise<HttpEndpoint> {
  const host = options.host ?? "127.0.0.1";
  const sessions = new Map<string, { transport: StreamableHTTPServerTransport; server: McpServer }>();
  let allowedHosts: string[] = [];

  const http = createServer(async (req, res) => {
    try {
      const path = new URL(req.url ?? "/", "http://localhost").pathname;
      if (path !== "/mcp") return reply(res, 404, "Not found: the MCP endpoint is /mcp");
      if (!authorized(req, options.token)) {
        res.setHeader("www-authenticate", "Bearer");
        return reply(res, 401, "Unauthorized: send Authorization: Bearer <token>");
      }
      const sessionId = req.headers["mcp-session-id"];
      const existing = typeof sessionId === "string" ? sessions.get(sessionId) : undefined;
      let body: unknown;
      if (req.method === "POST") {
        try {
          body = await readJson(req);
          if (body === TOO_LARGE) {
            res.writeHead(413, { "content-type": "application/json", connection: "close" });
            res.end(
              JSON.stringify({
                jsonrpc: "2.0",
                error: { code: -32600, message: `Request body over ${MAX_BODY} bytes` },
                id: null,
              }),
            );
            return;
          }
        } catch (error) {
          res.writeHead(400, { "content-type": "application/json" });
          res.end(
            JSON.stringify({
              jsonrpc: "2.0",
              error: { code: -32700, message: `Parse error: ${(error as Error).message}` },
              id: null,
            }),
          );
          return;
        }
      }
      if (existing) return await existing.transport.handleRequest(req, res, body);
      if (req.method !== "POST" || !isInitializeRequest(body)) {
        return reply(res, 400, "Bad request: no valid session; start with an initialize request");
      }
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        enableDnsRebindingProtection: true,
        allowedHosts,
        onsessioninitialized: (id) => {
          sessions.set(id, { transport, server });
        },
      });
      transport.onclose = () => {
        if (transport.sessionId) sessions.delete(transport.sessionId);
      };
      const server = await options.build();
      await server.connect(transport);
      await transport.handleRequest(req, res, body);
    } catch (error) {
      process.stderr.write(`async-tools-weather: http error ${(error as Error).message}\n`);
      if (!res.headersSent) reply(res, 500, "Internal error");
    }
  });

  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(options.port, host, () => resolve());
  });
  const { port } = http.address() as AddressInfo;
  allowedHosts = [`${host}:${port}`, `localhost:${port}`, `127.0.0.1:${port}`];
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}/mcp`;
  const close = async () => {
    for (const { transport, server } of sessions.values()) {
      await transport.close().catch(() => undefined);
      await server.close().catch(() => undefined);
    }
    sessions.clear();
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  };
  return { url, close, [Symbol.asyncDispose]: close };
}

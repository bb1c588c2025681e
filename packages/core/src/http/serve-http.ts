/**
 * `serveHttp`: a runtime's async tools over Streamable HTTP on Hono's Node server, with health checks,
 * DNS-rebinding protection, auth, and stateless (default) or stateful MCP.
 */
import { lookup } from "node:dns/promises";
import { type AddressInfo, isIP } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import { DEFAULTS_HTTP } from "../defaults.ts";
import { AsyncToolsError } from "../errors.ts";
import { log } from "../internal/log.ts";
import type { AsyncTools } from "../runtime/runtime.ts";
import { defaultMcpHandler } from "./default-mcp.ts";
import { createHttpHandler, type HttpHandler, type HttpHandlerOptions, originOf } from "./handler.ts";

/** Options of {@link serveHttp}: where to listen, and how to serve. */
export interface ServeHttpOptions extends HttpHandlerOptions {
  /** Port to listen on; `0` picks a free one. Default 3000. */
  port?: number;
  /**
   * Address to listen on: `127.0.0.1` (default), `::1`, `0.0.0.0`… An address beyond loopback needs `auth`,
   * or `allowUnauthenticated: true`.
   */
  host?: string;
  /**
   * Listen on an address beyond loopback with no `auth`: anyone who reaches the machine may then start,
   * read and cancel jobs. Without it, `serveHttp` refuses such a `host` (`INVALID_CONFIG`). Default false.
   */
  allowUnauthenticated?: boolean;
}

/** A listening server. */
export interface HttpServer extends AsyncDisposable {
  /** The MCP endpoint, e.g. `http://127.0.0.1:3000/mcp` (`http://[::1]:3000/mcp` on IPv6). */
  readonly url: string;
  readonly port: number;
  /** The handler behind it, for counts (`sessionCount`, `openExchanges`). */
  readonly handler: HttpHandler;
  /** Stops listening, ends every session and connection. The runtime stays open: close it yourself. */
  close(): Promise<void>;
}

/**
 * Serves `runtime`'s async tools over MCP Streamable HTTP. Stateless by default: each request gets a fresh
 * MCP server, a blocking await streams its progress in its own response, and nothing is kept afterwards.
 * The MCP face is `options.mcp`, else v1 when `@modelcontextprotocol/sdk` is installed, else v2
 * (`@modelcontextprotocol/server`, which serves 2026-07-28 and 2025-11-25 clients on the same endpoint).
 *
 * @example
 * ```ts
 * import { createAsyncTools } from "@async-tools/core";
 * import { serveHttp } from "@async-tools/core/http";
 *
 * const runtime = await createAsyncTools({ name: "reports", tools: [buildReport] });
 * const server = await serveHttp(runtime, { port: 3000, auth: { token: process.env.MCP_TOKEN ?? "change-me" } });
 * console.error(`listening on ${server.url}`);
 * ```
 */
export async function serveHttp(runtime: AsyncTools, options: ServeHttpOptions = {}): Promise<HttpServer> {
  const { port = DEFAULTS_HTTP.port, host = DEFAULTS_HTTP.host, allowUnauthenticated, ...given } = options;
  if (given.auth === undefined && allowUnauthenticated !== true && !(await isLoopback(host))) {
    throw new AsyncToolsError(
      "INVALID_CONFIG",
      `Refusing to listen on ${host} without auth: anyone who reaches it could start, read and cancel jobs. ` +
        "Give auth ({ token }, { tokens } or { oauth }), listen on 127.0.0.1, or pass " +
        "allowUnauthenticated: true to serve it open on purpose.",
    );
  }
  // Chosen before listening, so a project with no MCP SDK fails here rather than on its first request.
  const serve = { ...given, mcp: given.mcp ?? (await defaultMcpHandler(runtime)) };
  let handler: HttpHandler | undefined;
  // The handler needs the bound port (port 0 picks one) for its default allowed hosts; nothing arrives before
  // listen() completes.
  const server = createAdaptorServer({
    fetch: (request: Request) =>
      handler ? handler.fetch(request) : new Response("starting", { status: 503 }),
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port, host, backlog: DEFAULTS_HTTP.listenBacklog }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  try {
    handler = createHttpHandler(runtime, { ...serve, address: { host, port: bound } });
  } catch (error) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    throw error;
  }
  const url = `${originOf({ host, port: bound })}${serve.path ?? DEFAULTS_HTTP.path}`;
  log("info", "listening", { url, mode: serve.stateful ? "stateful" : "stateless" });
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      await handler?.close();
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      if ("closeAllConnections" in server) server.closeAllConnections();
      await stopped;
    })();
    return closing;
  };
  const active = handler;
  return {
    url,
    port: bound,
    handler: active,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Whether every address `host` names is on loopback (`127.0.0.0/8`, `::1`); a name that does not resolve is not. */
async function isLoopback(host: string): Promise<boolean> {
  const bare = host.replace(/^\[(.*)\]$/, "$1");
  let addresses: string[];
  try {
    addresses = isIP(bare) ? [bare] : (await lookup(bare, { all: true })).map((found) => found.address);
  } catch {
    return false;
  }
  return (
    addresses.length > 0 &&
    addresses.every((address) => address === "::1" || /^(::ffff:)?127\./.test(address))
  );
}

/**
 * Serves a fetch-style handler with node:http: what `async-tools dashboard` runs, and what tests use to put
 * the dashboard in front of a real browser. Binds to loopback unless told otherwise.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { log } from "../internal/log.ts";
import type { FetchHandler } from "./dashboard.ts";

/** Options of {@link serveDashboard}. */
export interface ServeDashboardOptions {
  /** Default 0: any free port. */
  port?: number;
  /** Default `127.0.0.1`: the dashboard has no sign-in unless given tokens. */
  host?: string;
}

/** A running server; close it when done. */
export interface ServedDashboard {
  /** `http://host:port`, without a trailing slash. */
  url: string;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Serves `handler` over HTTP on `host:port`.
 *
 * @example
 * ```ts
 * await using served = await serveDashboard(createDashboard(runtime), { port: 4319 });
 * ```
 */
export async function serveDashboard(
  handler: FetchHandler,
  options: ServeDashboardOptions = {},
): Promise<ServedDashboard> {
  const host = options.host ?? "127.0.0.1";
  const server = createServer((req, res) => {
    void answer(handler, req, res, host);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return { url, close, [Symbol.asyncDispose]: close };
}

async function answer(handler: FetchHandler, req: IncomingMessage, res: ServerResponse, host: string) {
  try {
    const url = `http://${req.headers.host ?? host}${req.url ?? "/"}`;
    const headers = new Headers();
    for (const [key, value] of Object.entries(req.headers)) {
      if (typeof value === "string") headers.set(key, value);
      else if (Array.isArray(value)) for (const v of value) headers.append(key, v);
    }
    const hasBody = req.method !== "GET" && req.method !== "HEAD";
    const request = new Request(url, {
      method: req.method ?? "GET",
      headers,
      ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream, duplex: "half" } : {}),
    } as RequestInit);
    const response = await handler(request);
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(response.body === null ? undefined : Buffer.from(await response.arrayBuffer()));
  } catch (error) {
    log("warn", "dashboard request failed", { path: req.url, error });
    if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
    res.end("Internal error");
  }
}

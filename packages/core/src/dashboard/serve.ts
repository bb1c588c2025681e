/**
 * Serves a fetch-style handler on Hono's Node server: what `async-tools dashboard` runs, and what tests use
 * to put the dashboard in front of a real browser. Binds to loopback unless told otherwise.
 */
import type { AddressInfo } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
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
  const server = createAdaptorServer({
    fetch: async (request: Request) => {
      try {
        return await handler(request);
      } catch (error) {
        log("warn", "dashboard request failed", { path: new URL(request.url).pathname, error });
        return new Response("Internal error", { status: 500, headers: { "content-type": "text/plain" } });
      }
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      if ("closeAllConnections" in server) server.closeAllConnections();
    });
    return closing;
  };
  return { url, close, [Symbol.asyncDispose]: close };
}

/**
 * The HTTP face as a fetch handler (a Hono app): health checks, DNS-rebinding protection, auth, the cap on
 * requests served at once, and extra routes behind the same auth, around the MCP endpoint (`mcp-endpoint.ts`).
 * `serveHttp` listens with it; tests and hosts with their own server call its `fetch` directly.
 */
import { Hono, type Context as HonoContext } from "hono";
import { cors } from "hono/cors";
import { DEFAULTS_HTTP } from "../defaults.ts";
import { AsyncToolsError } from "../errors.ts";
import { log } from "../internal/log.ts";
import type { McpHandler } from "../mcp/http-channel.ts";
import type { AsyncTools } from "../runtime/runtime.ts";
import { type Authenticator, createAuthenticator, type HttpAuth } from "./auth.ts";
import { BrowserSignIn } from "./browser-sign-in.ts";
import { defaultMcpHandler } from "./default-mcp.ts";
import { HostPolicy } from "./host-policy.ts";
import { type HttpEnv, mountMcpEndpoint, positive, type StatefulOptions } from "./mcp-endpoint.ts";
import { afterBody, RETRY_AFTER, rpcError } from "./responses.ts";

/**
 * A route mounted beside MCP, behind the same Host/Origin checks and auth: it gets the request as received
 * (its URL keeps the prefix) and the authenticated principal, also sent as the `x-async-tools-principal`
 * header (any such header from the client is removed first).
 */
export type ExtraRoute = (request: Request, context: { principal?: string }) => Response | Promise<Response>;

/** The header an {@link ExtraRoute} finds the principal in. */
export const PRINCIPAL_HEADER = "x-async-tools-principal";

export type { StatefulOptions };

/** How to serve a runtime over HTTP; every field is optional. */
export interface HttpHandlerOptions {
  /** The MCP endpoint's path. Default `/mcp`. */
  path?: string;
  /**
   * Stateless (default): every request gets a fresh MCP server and transport, gone when its response ends;
   * durable jobs carry the state, so any replica on a shared store answers any request. `true` (or bounds)
   * keeps a session per client in memory, for clients that need server-to-client requests between calls.
   */
  stateful?: boolean | StatefulOptions;
  /** Who may call: `{ token }`, `{ tokens: { principal: token } }` or `{ oauth }`. Default: anyone. */
  auth?: HttpAuth;
  /**
   * Host header values accepted besides the loopback names and the listening address (`name` matches any
   * port, `name:port` that port only), e.g. the public name behind a proxy. `"any"` turns the check off.
   */
  allowedHosts?: readonly string[] | "any";
  /** Browser origins accepted besides those on allowed hosts, e.g. `https://app.example.com`. */
  allowedOrigins?: readonly string[] | "any";
  /** Largest request body, in bytes; a larger one gets 413. Default 4 MiB. */
  maxBodyBytes?: number;
  /**
   * Requests served at once, an SSE answer counting until it ends; one more gets 503 with `Retry-After`.
   * `/healthz` and `/readyz` are outside the cap. Default 1000.
   */
  maxConcurrentRequests?: number;
  /**
   * Blocking calls (`tools/call` of an await tool, or of a task tool, which blocks for a client without Tasks)
   * of one principal at once, every caller counting as one without auth; one more gets 429 with
   * `Retry-After`. Default 100.
   */
  maxAwaitsPerPrincipal?: number;
  /**
   * Fetch-style routes by path prefix, e.g. `{ "/jobs": dashboard }`, behind the same auth. With static tokens,
   * a browser without an `Authorization` header gets a sign-in form there, and a signed HttpOnly cookie for
   * that route after it.
   */
  routes?: Readonly<Record<string, ExtraRoute>>;
  /**
   * The MCP face: `createMcpHandler(runtime)` from `@async-tools/core/mcp-v1` or `@async-tools/core/mcp-v2`.
   * Default: v1 when `@modelcontextprotocol/sdk` is installed, else v2 (`@modelcontextprotocol/server`).
   */
  mcp?: McpHandler;
}

/** A fetch handler serving a runtime; close it to end every session. */
export interface HttpHandler {
  fetch(request: Request): Promise<Response>;
  /** Open stateful sessions (always 0 when stateless). */
  readonly sessionCount: number;
  /** Exchanges whose MCP server is still open (stateless: requests whose response has not ended). */
  readonly openExchanges: number;
  close(): Promise<void>;
}

/** Where the handler is reached, for the default allowed hosts and the default OAuth resource. */
export interface HandlerAddress {
  host: string;
  port: number;
}

/** `http://host:port` with IPv6 in brackets. */
export function originOf(address: HandlerAddress): string {
  const host =
    address.host.includes(":") && !address.host.startsWith("[") ? `[${address.host}]` : address.host;
  return `http://${host}:${address.port}`;
}

/**
 * The HTTP face of `runtime` as a fetch handler, without listening: for tests (no ports) and for hosts that
 * bring their own server. Most callers want `serveHttp`. `address` is where it is reached (default
 * 127.0.0.1:3000): it names the default allowed host and the default OAuth resource.
 *
 * @example
 * ```ts
 * const http = createHttpHandler(runtime, { address: { host: "127.0.0.1", port: 3000 } });
 * const health = await http.fetch(new Request("http://127.0.0.1:3000/healthz"));
 * ```
 */
export function createHttpHandler(
  runtime: AsyncTools,
  options: HttpHandlerOptions & { address?: HandlerAddress } = {},
): HttpHandler {
  const address = options.address ?? { host: DEFAULTS_HTTP.host, port: DEFAULTS_HTTP.port };
  // Loaded on first use, since this function is synchronous; `serveHttp` resolves it before listening, so a
  // missing SDK fails at startup there.
  let defaultFace: Promise<McpHandler> | undefined;
  const face = (): Promise<McpHandler> => {
    if (options.mcp !== undefined) return Promise.resolve(options.mcp);
    defaultFace ??= defaultMcpHandler(runtime);
    return defaultFace;
  };
  const path = options.path ?? DEFAULTS_HTTP.path;
  if (!path.startsWith("/")) throw new AsyncToolsError("INVALID_CONFIG", `path must start with /: ${path}`);
  const hosts = new HostPolicy({
    listenHost: address.host,
    ...(options.allowedHosts === undefined ? {} : { allowedHosts: options.allowedHosts }),
    ...(options.allowedOrigins === undefined ? {} : { allowedOrigins: options.allowedOrigins }),
  });
  const auth: Authenticator = createAuthenticator(options.auth, () => new URL(path, originOf(address)));
  const routePrefixes = Object.keys(options.routes ?? {}).map((prefix) => prefix.replace(/\/$/, ""));
  // Browsers sign in to the extra routes with a form where callers hold static tokens (OAuth has its own flow).
  const browserSignIn =
    options.auth !== undefined && !("oauth" in options.auth) && routePrefixes.length > 0
      ? new BrowserSignIn(auth)
      : undefined;
  const maxRequests = positive(
    options.maxConcurrentRequests,
    DEFAULTS_HTTP.maxConcurrentRequests,
    "maxConcurrentRequests",
  );
  let openRequests = 0;

  const app = new Hono<HttpEnv>();

  // Outside the auth and the Host checks: load balancers and orchestrators probe by IP without credentials.
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", async (c) => {
    try {
      await withTimeout(runtime.probe(["async-tools-readyz"]), DEFAULTS_HTTP.readyTimeoutMs);
      return c.json({ status: "ready", store: runtime.store.kind });
    } catch (error) {
      log("warn", "not ready", { error });
      return c.json({ status: "unavailable", error: "The job store did not answer." }, 503);
    }
  });
  for (const [route, answer] of auth.publicRoutes()) app.get(route, () => answer());

  // Browser apps on the listed origins may call the endpoint (the preflight carries no credentials, so it comes
  // before the auth); everyone else gets no CORS headers.
  const crossOrigin = cors({
    origin: (origin) => (origin !== "" && hosts.listsOrigin(origin) ? origin : null),
    allowMethods: ["GET", "POST", "DELETE"],
    allowHeaders: [
      "authorization",
      "content-type",
      "last-event-id",
      "mcp-method",
      "mcp-name",
      "mcp-protocol-version",
      "mcp-session-id",
    ],
    exposeHeaders: ["mcp-session-id", "www-authenticate"],
  });
  app.use(path, crossOrigin);

  app.use("*", async (c, next) => {
    // A Request built in-process has no Host header; its URL says where it goes.
    if (!hosts.allowsHost(c.req.header("host") ?? new URL(c.req.url).host)) {
      return rpcError(403, -32000, "Forbidden: this Host is not allowed (DNS rebinding protection).");
    }
    if (!hosts.allowsOrigin(c.req.header("origin"))) {
      return rpcError(403, -32000, "Forbidden: this Origin is not allowed.");
    }
    const prefix = routePrefixes.find((p) => c.req.path === p || c.req.path.startsWith(`${p}/`));
    if (prefix !== undefined && browserSignIn !== undefined && c.req.header("authorization") === undefined) {
      const answer = await browserSignIn.handle(c.req.raw, prefix);
      if (answer instanceof Response) return answer;
      c.set("principal", answer.principal);
      await next();
      return;
    }
    const outcome = await auth.authenticate(c.req.raw);
    if (!outcome.ok) return outcome.response;
    c.set("principal", outcome.principal);
    c.set("authInfo", outcome.authInfo);
    await next();
  });

  const endpoint = mountMcpEndpoint(app, runtime, {
    path,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULTS_HTTP.maxBodyBytes,
    stateful: options.stateful,
    maxAwaitsPerPrincipal: options.maxAwaitsPerPrincipal,
    face,
  });

  for (const [prefix, route] of Object.entries(options.routes ?? {})) {
    const base = prefix.replace(/\/$/, "");
    if (!base.startsWith("/") || base === path) {
      throw new AsyncToolsError(
        "INVALID_CONFIG",
        `A route prefix must start with / and not be ${path}: ${prefix}`,
      );
    }
    const answer = async (c: HonoContext<HttpEnv>) => {
      const principal = c.get("principal");
      const headers = new Headers(c.req.raw.headers);
      headers.delete(PRINCIPAL_HEADER);
      if (principal !== undefined) headers.set(PRINCIPAL_HEADER, principal);
      const request = new Request(c.req.raw, { headers });
      return route(request, principal === undefined ? {} : { principal });
    };
    app.all(base, answer);
    app.all(`${base}/*`, answer);
  }

  app.notFound(() => rpcError(404, -32000, `Not found: the MCP endpoint is ${path}.`));
  app.onError((error) => {
    log("warn", "http error", { error });
    return rpcError(500, -32603, "Internal error");
  });

  return {
    fetch: async (request) => {
      const { pathname } = new URL(request.url);
      if (pathname === "/healthz" || pathname === "/readyz") return app.fetch(request);
      if (openRequests >= maxRequests) {
        return rpcError(
          503,
          -32000,
          `Server busy: ${maxRequests} requests are being served; retry shortly.`,
          RETRY_AFTER,
        );
      }
      openRequests += 1;
      const release = () => {
        openRequests -= 1;
      };
      try {
        return afterBody(await app.fetch(request), release);
      } catch (error) {
        release();
        throw error;
      }
    },
    get sessionCount() {
      return endpoint.sessionCount;
    },
    get openExchanges() {
      return endpoint.openExchanges;
    },
    close: () => endpoint.close(),
  };
}

async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

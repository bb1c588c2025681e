/**
 * The HTTP face as a fetch handler (a Hono app): health checks, DNS-rebinding protection, auth, the MCP
 * endpoint (stateless by default, stateful sessions as an option) and extra routes behind the same auth.
 * `serveHttp` listens with it; tests and hosts with their own server call its `fetch` directly.
 */
import { randomUUID } from "node:crypto";
import { Hono, type Context as HonoContext } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { DEFAULTS_HTTP } from "../defaults.ts";
import { AsyncToolsError } from "../errors.ts";
import { log } from "../internal/log.ts";
import type { AsyncTools } from "../runtime/runtime.ts";
import { type Authenticator, createAuthenticator, type HttpAuth } from "./auth.ts";
import { BrowserSignIn } from "./browser-sign-in.ts";
import { defaultMcpHandler } from "./default-mcp.ts";
import { HostPolicy } from "./host-policy.ts";
import type { HttpAuthInfo, McpHandler } from "./mcp-handler.ts";
import { afterBody, rpcError } from "./responses.ts";
import { SessionTable } from "./sessions.ts";

/** Stateful mode's bounds. */
export interface StatefulOptions {
  /** Most sessions held at once; opening one more closes the least recently used. Default 256. */
  maxSessions?: number;
  /** A session with no request for this long is closed, in ms. Default 15 minutes. */
  idleMs?: number;
}

/**
 * A route mounted beside MCP, behind the same Host/Origin checks and auth: it gets the request as received
 * (its URL keeps the prefix) and the authenticated principal, also sent as the `x-async-tools-principal`
 * header (any such header from the client is removed first).
 */
export type ExtraRoute = (request: Request, context: { principal?: string }) => Response | Promise<Response>;

/** The header an {@link ExtraRoute} finds the principal in. */
export const PRINCIPAL_HEADER = "x-async-tools-principal";

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

type Env = { Variables: { principal: string | undefined; authInfo: HttpAuthInfo | undefined } };

function isInitialize(body: unknown): boolean {
  return typeof body === "object" && body !== null && (body as { method?: unknown }).method === "initialize";
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
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULTS_HTTP.maxBodyBytes;
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
  const stateful = options.stateful === true ? {} : options.stateful || undefined;
  const sessions =
    stateful === undefined
      ? undefined
      : new SessionTable({
          maxSessions: positive(stateful.maxSessions, DEFAULTS_HTTP.maxSessions, "stateful.maxSessions"),
          idleMs: positive(stateful.idleMs, DEFAULTS_HTTP.sessionIdleMs, "stateful.idleMs"),
        });
  let openExchanges = 0;
  const maxRequests = positive(
    options.maxConcurrentRequests,
    DEFAULTS_HTTP.maxConcurrentRequests,
    "maxConcurrentRequests",
  );
  let openRequests = 0;
  const maxAwaits = positive(
    options.maxAwaitsPerPrincipal,
    DEFAULTS_HTTP.maxAwaitsPerPrincipal,
    "maxAwaitsPerPrincipal",
  );
  // A plain call of a task tool (a client without Tasks) blocks like an await, so it counts as one.
  const awaitTools = new Set(
    runtime.tools.flatMap(({ toolNames }) => [toolNames.await, ...(toolNames.task ? [toolNames.task] : [])]),
  );
  /** Blocking awaits in flight by principal ("" for the sole caller without auth). */
  const awaitsOf = new Map<string, number>();
  const retryAfter = { "retry-after": String(DEFAULTS_HTTP.retryAfterSeconds) };

  const app = new Hono<Env>();

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

  const tooLarge = async (c: HonoContext<Env>) => {
    // Read the rest of the upload (up to a bound) before answering, so the client gets its 413 instead of a
    // connection reset while it is still sending.
    const finished = await drain(c.req.raw.body, DEFAULTS_HTTP.maxDrainBytes);
    return rpcError(
      413,
      -32600,
      `Request body over ${maxBodyBytes} bytes.`,
      finished ? {} : { connection: "close" },
    );
  };
  app.post(path, bodyLimit({ maxSize: maxBodyBytes, onError: tooLarge }));
  app.all(path, async (c) => {
    const request = c.req.raw;
    let parsedBody: unknown;
    if (request.method === "POST") {
      try {
        parsedBody = JSON.parse(await request.text());
      } catch (error) {
        return rpcError(400, -32700, `Parse error: ${(error as Error).message}`);
      }
    }
    const authInfo = c.get("authInfo");
    const handleOptions = { parsedBody, ...(authInfo === undefined ? {} : { authInfo }) };
    const serve = () =>
      sessions === undefined
        ? stateless(request, handleOptions)
        : statefulExchange(c, request, handleOptions, sessions);
    if (!isAwaitCall(parsedBody)) return serve();
    const principal = c.get("principal") ?? "";
    const held = awaitsOf.get(principal) ?? 0;
    if (held >= maxAwaits) {
      return rpcError(
        429,
        -32000,
        `Too many blocking awaits at once for this caller (${maxAwaits}): wait for one to return, or probe instead.`,
        retryAfter,
      );
    }
    awaitsOf.set(principal, held + 1);
    const release = () => {
      const left = (awaitsOf.get(principal) ?? 1) - 1;
      if (left > 0) awaitsOf.set(principal, left);
      else awaitsOf.delete(principal);
    };
    try {
      return afterBody(await serve(), release);
    } catch (error) {
      release();
      throw error;
    }
  });

  /** Whether a POST body calls an await or task tool (alone or in a batch): it may block for a while. */
  function isAwaitCall(body: unknown): boolean {
    const messages = Array.isArray(body) ? body : [body];
    return messages.some((message: unknown) => {
      if (typeof message !== "object" || message === null) return false;
      const { method, params } = message as { method?: unknown; params?: { name?: unknown } };
      return method === "tools/call" && typeof params?.name === "string" && awaitTools.has(params.name);
    });
  }

  async function stateless(
    request: Request,
    handleOptions: { parsedBody: unknown; authInfo?: HttpAuthInfo },
  ): Promise<Response> {
    if (request.method !== "POST") {
      // No session, so no stream to resume and nothing to delete.
      return rpcError(405, -32000, "Method not allowed: this server is stateless; POST requests only.", {
        allow: "POST",
      });
    }
    const channel = await (await face()).open({});
    openExchanges += 1;
    const exchange = exchangeOf(request, () => {
      openExchanges -= 1;
      void channel.close().catch(() => undefined);
    });
    const release = exchange.end;
    try {
      return afterBody(await channel.handle(exchange.request, handleOptions), release);
    } catch (error) {
      release();
      throw error;
    }
  }

  async function statefulExchange(
    c: HonoContext<Env>,
    request: Request,
    handleOptions: { parsedBody: unknown; authInfo?: HttpAuthInfo },
    table: SessionTable,
  ): Promise<Response> {
    const principal = c.get("principal");
    const id = request.headers.get("mcp-session-id");
    if (id !== null) {
      const session = table.get(id, principal);
      if (session === undefined) {
        // Unknown, expired, closed, or another principal's: the client must initialize anew (spec: 404).
        return rpcError(404, -32001, "Session not found: initialize a new session.");
      }
      session.active += 1;
      const exchange = exchangeOf(request, () => {
        session.active -= 1;
        session.lastUsed = Date.now();
      });
      const release = exchange.end;
      try {
        return afterBody(await session.channel.handle(exchange.request, handleOptions), release);
      } catch (error) {
        release();
        throw error;
      }
    }
    const mcp = await face();
    if (await mcp.sessionless?.(request, handleOptions.parsedBody)) return stateless(request, handleOptions);
    if (request.method !== "POST" || !isInitialize(handleOptions.parsedBody)) {
      return rpcError(400, -32000, "Bad Request: Mcp-Session-Id header is required; start with initialize.");
    }
    const sessionId = randomUUID();
    const channel = await mcp.open({ sessionId, onSessionClosed: () => table.close(sessionId) });
    const response = await channel.handle(request, handleOptions);
    if (!response.ok || response.headers.get("mcp-session-id") !== sessionId) {
      return afterBody(response, () => void channel.close().catch(() => undefined));
    }
    const session = { id: sessionId, channel, principal, lastUsed: Date.now(), active: 1 };
    table.add(session);
    return afterBody(response, () => {
      session.active -= 1;
      session.lastUsed = Date.now();
    });
  }

  for (const [prefix, route] of Object.entries(options.routes ?? {})) {
    const base = prefix.replace(/\/$/, "");
    if (!base.startsWith("/") || base === path) {
      throw new AsyncToolsError(
        "INVALID_CONFIG",
        `A route prefix must start with / and not be ${path}: ${prefix}`,
      );
    }
    const answer = async (c: HonoContext<Env>) => {
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
          retryAfter,
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
      return sessions?.size ?? 0;
    },
    get openExchanges() {
      return openExchanges;
    },
    close: async () => {
      await sessions?.closeAll();
    },
  };
}

/** Reads and drops `body` up to `limit` bytes; whether it ended within them. A locked body counts as not. */
async function drain(body: ReadableStream<Uint8Array> | null, limit: number): Promise<boolean> {
  if (body === null) return true;
  if (body.locked) return false;
  const reader = body.getReader();
  let read = 0;
  try {
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) return true;
      read += chunk.value.byteLength;
      if (read > limit) {
        await reader.cancel();
        return false;
      }
    }
  } catch {
    return false;
  }
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new AsyncToolsError("INVALID_CONFIG", `${name} must be a positive number, got ${value}.`);
  }
  return value;
}

/**
 * One exchange's view of `request`: the same method, URL and headers (the body is already parsed) with a
 * signal of its own, aborted when the client goes away first; `end` (idempotent) runs `onEnd` once, also on
 * that abort. The request's own signal lives as long as its keep-alive socket, so nothing of the exchange may
 * listen on it past `end`: such a listener (the v2 SDK's stateless fallback leaves one) would keep the
 * exchange's MCP server and transport, about 60 KiB, reachable until the client hangs up.
 */
function exchangeOf(request: Request, onEnd: () => void): { request: Request; end: () => void } {
  const outer = request.signal;
  const own = new AbortController();
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    outer.removeEventListener("abort", abort);
    onEnd();
  };
  const abort = () => {
    own.abort(outer.reason);
    end();
  };
  outer.addEventListener("abort", abort, { once: true });
  if (outer.aborted) abort();
  const view = new Request(request.url, {
    method: request.method,
    headers: request.headers,
    signal: own.signal,
  });
  return { request: view, end };
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

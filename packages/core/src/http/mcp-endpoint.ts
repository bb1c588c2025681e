/**
 * The MCP endpoint of the HTTP face: the size cap on a request body, the cap on one caller's blocking awaits,
 * and the exchange (stateless: a fresh MCP server per request) or session (stateful) that answers it through
 * the face's {@link McpHandler}. `handler.ts` mounts it behind its Host/Origin checks and auth.
 */
import { randomUUID } from "node:crypto";
import type { Hono, Context as HonoContext } from "hono";
import { bodyLimit } from "hono/body-limit";
import { DEFAULTS_HTTP } from "../defaults.ts";
import { AsyncToolsError } from "../errors.ts";
import type { HttpAuthInfo, McpHandler } from "../mcp/http-channel.ts";
import type { AsyncTools } from "../runtime/runtime.ts";
import { afterBody, RETRY_AFTER, rpcError } from "./responses.ts";
import { SessionTable } from "./sessions.ts";

/** Stateful mode's bounds. */
export interface StatefulOptions {
  /** Most sessions held at once; opening one more closes the least recently used. Default 256. */
  maxSessions?: number;
  /** A session with no request for this long is closed, in ms. Default 15 minutes. */
  idleMs?: number;
}

/** What the auth in front of the endpoint leaves in each request's context. */
export type HttpEnv = { Variables: { principal: string | undefined; authInfo: HttpAuthInfo | undefined } };

/** How {@link mountMcpEndpoint} serves. */
export interface McpEndpointOptions {
  path: string;
  maxBodyBytes: number;
  stateful: boolean | StatefulOptions | undefined;
  maxAwaitsPerPrincipal: number | undefined;
  /** The MCP face, loaded on first use. */
  face: () => Promise<McpHandler>;
}

/** The endpoint's state, for the handler's counters and its close. */
export interface McpEndpoint {
  readonly sessionCount: number;
  readonly openExchanges: number;
  close(): Promise<void>;
}

/** Mounts the MCP endpoint of `runtime` on `app` at `options.path`. */
export function mountMcpEndpoint(
  app: Hono<HttpEnv>,
  runtime: AsyncTools,
  options: McpEndpointOptions,
): McpEndpoint {
  const { path, maxBodyBytes, face } = options;
  const stateful = options.stateful === true ? {} : options.stateful || undefined;
  const sessions =
    stateful === undefined
      ? undefined
      : new SessionTable({
          maxSessions: positive(stateful.maxSessions, DEFAULTS_HTTP.maxSessions, "stateful.maxSessions"),
          idleMs: positive(stateful.idleMs, DEFAULTS_HTTP.sessionIdleMs, "stateful.idleMs"),
        });
  let openExchanges = 0;
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

  const tooLarge = async (c: HonoContext<HttpEnv>) => {
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
        RETRY_AFTER,
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
    c: HonoContext<HttpEnv>,
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

  return {
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

function isInitialize(body: unknown): boolean {
  return typeof body === "object" && body !== null && (body as { method?: unknown }).method === "initialize";
}

/** `value`, or `fallback` when absent; a value that is not a positive number is a configuration error. */
export function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new AsyncToolsError("INVALID_CONFIG", `${name} must be a positive number, got ${value}.`);
  }
  return value;
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

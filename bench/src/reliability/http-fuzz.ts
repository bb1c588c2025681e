/**
 * HTTP bodies fuzzed against the Streamable HTTP server: garbage, huge and deeply nested bodies, wrong
 * content types, with and without a session. Every answer must be a success or a JSON-RPC error (never a
 * dropped connection or a 5xx), and the server must still serve a real client afterwards.
 */
import { request as httpRequest } from "node:http";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import fc from "fast-check";
import { failureOf, nestedJson, TOOL_NAMES, toolArguments } from "../lib/arbitraries.ts";
import { startHttpServer } from "../lib/child.ts";
import type { Check } from "../lib/scenario.ts";

interface Body {
  kind: string;
  bytes: Buffer;
  contentType: string | undefined;
  session: boolean;
}

const PROTOCOL = "2025-06-18";

function request(method: string, params: unknown, id = 1): string {
  return JSON.stringify({ jsonrpc: "2.0", id, method, params });
}

const contentType = fc.constantFrom(
  "application/json",
  "text/plain",
  "application/x-www-form-urlencoded",
  undefined,
);

const body: fc.Arbitrary<Body> = fc
  .tuple(
    fc.oneof(
      fc.jsonValue().map((v) => ({ kind: "random JSON", text: JSON.stringify(v) })),
      fc.string({ unit: "grapheme" }).map((text) => ({ kind: "not JSON", text })),
      fc
        .uint8Array({ minLength: 1, maxLength: 2_000 })
        .map((raw) => ({ kind: "invalid UTF-8 bytes", raw: Buffer.from(raw.map((b) => b | 0x80)) })),
      fc
        .integer({ min: 1_000, max: 300_000 })
        .map((depth) => ({ kind: "deep nesting", text: nestedJson(depth) })),
      fc.integer({ min: 100_000, max: 6_000_000 }).map((size) => ({
        kind: "huge body",
        text: request("tools/call", { name: "noop", arguments: { n: "x".repeat(size) } }),
      })),
      fc.tuple(fc.constantFrom(...TOOL_NAMES), toolArguments).map(([name, args]) => ({
        kind: "tools/call with bad arguments",
        text: request("tools/call", { name, arguments: args }),
      })),
      fc.string().map((method) => ({ kind: "unknown method", text: request(method, {}) })),
      fc
        .array(fc.jsonValue(), { maxLength: 5 })
        .map((batch) => ({ kind: "batch of junk", text: JSON.stringify(batch) })),
      fc.constant({ kind: "initialize again", text: request("initialize", {}) }),
    ),
    contentType,
    fc.boolean(),
  )
  .map(([payload, type, session]) => ({
    kind: payload.kind,
    bytes: "raw" in payload ? payload.raw : Buffer.from(payload.text),
    contentType: type,
    session,
  }));

const LIMIT = 4 * 1024 * 1024;

/**
 * POSTs `body` on a connection of its own (no keep-alive), so a connection the server resets cannot spoil
 * the next request; resolves with the status and body, rejects when no answer comes.
 */
function post(
  url: string,
  headers: Record<string, string>,
  body: Buffer | string,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: "POST", headers, agent: false, timeout: 20_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
      );
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("no answer within 20 s")));
    req.on("error", reject);
    req.end(body);
  });
}

/** A JSON-RPC error body, or an SSE/JSON success, is a clear answer; anything else is not. */
function clearAnswer(status: number, text: string): boolean {
  if (status === 202) return true;
  const json =
    text.trim().startsWith("event:") || text.includes("data:")
      ? text
          .split("\n")
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(5))
          .join("")
      : text;
  try {
    const parsed = JSON.parse(json) as { error?: { code?: unknown; message?: unknown }; result?: unknown };
    const messages = Array.isArray(parsed) ? parsed : [parsed];
    return messages.every(
      (m) =>
        m.result !== undefined ||
        (m.error !== undefined && typeof m.error.code === "number" && typeof m.error.message === "string"),
    );
  } catch {
    return false;
  }
}

/** Posts `runs` fuzzed bodies to `/mcp`; returns the checks. */
export async function fuzzHttp(runs: number, seed: number): Promise<{ checks: Check[]; figures: object }> {
  const server = await startHttpServer({ store: "memory" });
  const statuses = new Map<number, number>();
  let failure: string | undefined;
  let resets = 0;
  let oversized = 0;
  try {
    const json = { "content-type": "application/json", accept: "application/json, text/event-stream" };
    const init = await new Promise<string | undefined>((resolve, reject) => {
      const body = request("initialize", {
        protocolVersion: PROTOCOL,
        capabilities: {},
        clientInfo: { name: "fuzz", version: "0" },
      });
      const req = httpRequest(server.url, { method: "POST", headers: json, agent: false }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.headers["mcp-session-id"] as string | undefined));
      });
      req.on("error", reject);
      req.end(body);
    });
    if (init === undefined) throw new Error("no session from initialize");
    const session = init;
    const sessionHeaders = { ...json, "mcp-session-id": session, "mcp-protocol-version": PROTOCOL };
    await post(server.url, sessionHeaders, '{"jsonrpc":"2.0","method":"notifications/initialized"}');

    failure = await failureOf(
      fc.asyncProperty(body, async (input) => {
        const headers: Record<string, string> = { accept: "application/json, text/event-stream" };
        if (input.contentType) headers["content-type"] = input.contentType;
        if (input.session) {
          headers["mcp-session-id"] = session;
          headers["mcp-protocol-version"] = PROTOCOL;
        }
        let answer: { status: number; text: string };
        try {
          answer = await post(server.url, headers, input.bytes);
        } catch (error) {
          // Past the 4 MiB limit the server reads on (up to 64 MiB) and answers 413; a bigger upload is cut off.
          if (input.bytes.length > LIMIT && /ECONNRESET|EPIPE/.test((error as Error).message)) {
            resets++;
            return;
          }
          throw new Error(`no answer to ${input.kind}: ${(error as Error).message}`);
        }
        const { status, text } = answer;
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (input.bytes.length > LIMIT) oversized++;
        if (status >= 500) throw new Error(`${status} for ${input.kind}: ${text.slice(0, 200)}`);
        if (!clearAnswer(status, text)) {
          throw new Error(`unclear ${status} answer to ${input.kind}: ${JSON.stringify(text.slice(0, 200))}`);
        }
        if (!server.alive())
          throw new Error(`the server died on ${input.kind}: ${server.stderr().slice(-500)}`);
      }),
      { numRuns: runs, seed, endOnFailure: true },
    );
    const client = new Client({ name: "fuzz-after", version: "0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(server.url)));
    const after = await client.callTool({ name: "noop", arguments: { n: 1 } });
    await client.close();
    if (after.isError) throw new Error("a valid call failed after the fuzzing");
  } catch (error) {
    failure ??= error instanceof Error ? error.message : String(error);
  } finally {
    await server.kill();
  }
  const byStatus = [...statuses.entries()].sort(([a], [b]) => a - b).map(([s, n]) => `${n}x ${s}`);
  return {
    figures: { bodies: runs, statuses: Object.fromEntries(statuses), oversized_reset: resets },
    checks: [
      {
        name: "fuzzed HTTP bodies: JSON-RPC errors, no 5xx, server up",
        ok: failure === undefined,
        detail: failure ?? `${runs} bodies: ${byStatus.join(", ")}; a real client served afterwards`,
      },
      {
        name: "bodies over the 4 MiB limit get their 413, not a reset",
        ok: resets === 0,
        warnOnly: true,
        detail: `${resets} of ${resets + oversized} over-limit bodies saw the connection reset before the answer (serveHttp reads on up to 64 MiB, then answers 413)`,
      },
    ],
  };
}

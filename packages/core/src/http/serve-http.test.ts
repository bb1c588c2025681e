import { INITIALIZE, MCP_HEADERS, raw, structured } from "@async-tools/test-helpers/mcp";
import type { Progress } from "@modelcontextprotocol/sdk/types.js";
import { describe, expect, it } from "vitest";
import { gate, squareTool } from "../../test/helpers.ts";
import { rig } from "../../test/http-rig.ts";
import { createAsyncTools } from "../index.ts";
import { serveHttp } from "./index.ts";

describe("serveHttp, stateless (the default)", () => {
  it("starts and awaits a job, streaming the await's progress in that request's response", async () => {
    const hold = gate();
    const r = await rig({}, hold.promise);
    const client = await r.client();
    const { job_id } = structured<{ job_id: string }>(
      await client.callTool({ name: "start_square", arguments: { n: 7 } }),
    );
    const progress: Progress[] = [];
    const awaited = client.callTool({ name: "await_square", arguments: { job_ids: [job_id] } }, undefined, {
      onprogress: (p) => {
        progress.push(p);
        if (progress.length === 1) hold.open();
      },
    });
    const out = structured<{ jobs: { status: string; result: unknown }[] }>(await awaited);
    expect(out.jobs[0]).toMatchObject({ status: "completed", result: { square: 49, label: "x" } });
    expect(progress.length).toBeGreaterThan(0);
  });

  it("holds no state after a response: no session ID, no open exchange", async () => {
    const r = await rig();
    const client = await r.client();
    await client.listTools();
    await client.callTool({ name: "start_square", arguments: { n: 2 } });
    await expect.poll(() => r.server.handler.openExchanges).toBe(0);
    expect(r.server.handler.sessionCount).toBe(0);
    const init = await raw(r.server.url, { headers: MCP_HEADERS, body: JSON.stringify(INITIALIZE) });
    expect(init.status).toBe(200);
    expect(init.headers["mcp-session-id"]).toBeUndefined();
    const get = await raw(r.server.url, { method: "GET", headers: { accept: "text/event-stream" } });
    expect(get.status).toBe(405);
  });

  it("ends the exchange when the client goes away mid-await", async () => {
    const hold = gate();
    const r = await rig({}, hold.promise);
    const client = await r.client();
    const { job_id } = structured<{ job_id: string }>(
      await client.callTool({ name: "start_square", arguments: { n: 8 } }),
    );
    const controller = new AbortController();
    const call = {
      jsonrpc: "2.0",
      id: 9,
      method: "tools/call",
      params: { name: "await_square", arguments: { job_ids: [job_id] }, _meta: { progressToken: 1 } },
    };
    const res = await fetch(r.server.url, {
      method: "POST",
      headers: { ...MCP_HEADERS, "mcp-protocol-version": "2025-11-25" },
      body: JSON.stringify(call),
      signal: controller.signal,
    });
    const reader = res.body?.getReader();
    const first = await reader?.read();
    expect(new TextDecoder().decode(first?.value)).toContain("notifications/progress");
    expect(r.server.handler.openExchanges).toBe(1);
    controller.abort();
    await expect.poll(() => r.server.handler.openExchanges).toBe(0);
    hold.open();
  });
});

describe("serveHttp, stateful", () => {
  it("keeps a session, answers 404 for an unknown session ID, and ends a session on DELETE", async () => {
    const r = await rig({ stateful: true });
    const init = await raw(r.server.url, { headers: MCP_HEADERS, body: JSON.stringify(INITIALIZE) });
    expect(init.status).toBe(200);
    const session = String(init.headers["mcp-session-id"]);
    expect(session).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.server.handler.sessionCount).toBe(1);
    const ping = { jsonrpc: "2.0", id: 2, method: "ping" };
    const withSession = { ...MCP_HEADERS, "mcp-session-id": session, "mcp-protocol-version": "2025-11-25" };
    expect((await raw(r.server.url, { headers: withSession, body: JSON.stringify(ping) })).status).toBe(200);
    const unknown = await raw(r.server.url, {
      headers: { ...withSession, "mcp-session-id": "00000000-0000-0000-0000-000000000000" },
      body: JSON.stringify(ping),
    });
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body).error.code).toBe(-32001);
    const missing = await raw(r.server.url, { headers: MCP_HEADERS, body: JSON.stringify(ping) });
    expect(missing.status).toBe(400);
    expect((await raw(r.server.url, { method: "DELETE", headers: withSession })).status).toBe(200);
    expect(r.server.handler.sessionCount).toBe(0);
    expect((await raw(r.server.url, { headers: withSession, body: JSON.stringify(ping) })).status).toBe(404);
  });

  it("works with a real client across calls", async () => {
    const r = await rig({ stateful: true });
    const client = await r.client();
    const { job_id } = structured<{ job_id: string }>(
      await client.callTool({ name: "start_square", arguments: { n: 3 } }),
    );
    const out = structured<{ done: boolean }>(
      await client.callTool({ name: "await_square", arguments: { job_ids: [job_id] } }),
    );
    expect(out.done).toBe(true);
    expect(r.server.handler.sessionCount).toBe(1);
  });

  it("closes the least recently used session past the cap, and idle sessions", async () => {
    const r = await rig({ stateful: { maxSessions: 3, idleMs: 60_000 } });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const init = await raw(r.server.url, { headers: MCP_HEADERS, body: JSON.stringify(INITIALIZE) });
      ids.push(String(init.headers["mcp-session-id"]));
    }
    expect(r.server.handler.sessionCount).toBe(3);
    const ping = JSON.stringify({ jsonrpc: "2.0", id: 2, method: "ping" });
    const status = async (id: string) =>
      (await raw(r.server.url, { headers: { ...MCP_HEADERS, "mcp-session-id": id }, body: ping })).status;
    expect(await status(ids[0] ?? "")).toBe(404);
    expect(await status(ids[4] ?? "")).toBe(200);

    const idle = await rig({ stateful: { maxSessions: 10, idleMs: 50 } });
    const first = await raw(idle.server.url, { headers: MCP_HEADERS, body: JSON.stringify(INITIALIZE) });
    await new Promise((resolve) => setTimeout(resolve, 120));
    // Opening a session sweeps idle ones (a timer does too, at most every minute).
    await raw(idle.server.url, { headers: MCP_HEADERS, body: JSON.stringify(INITIALIZE) });
    expect(idle.server.handler.sessionCount).toBe(1);
    const late = await raw(idle.server.url, {
      headers: { ...MCP_HEADERS, "mcp-session-id": String(first.headers["mcp-session-id"]) },
      body: ping,
    });
    expect(late.status).toBe(404);
  });
});

describe("serveHttp at the edges", () => {
  it("refuses a forged Host or Origin with 403 and accepts loopback ones", async () => {
    const r = await rig();
    const port = r.server.port;
    const body = JSON.stringify(INITIALIZE);
    const status = async (headers: Record<string, string>) =>
      (await raw(r.server.url, { headers: { ...MCP_HEADERS, ...headers }, body })).status;
    expect(await status({ host: "evil.example" })).toBe(403);
    expect(await status({ host: `evil.example:${port}` })).toBe(403);
    expect(await status({ origin: "http://evil.example" })).toBe(403);
    expect(await status({ origin: "null" })).toBe(403);
    expect(await status({ host: `localhost:${port}`, origin: `http://localhost:${port}` })).toBe(200);
    expect(await status({ origin: `http://127.0.0.1:${port}` })).toBe(200);
  });

  it("accepts configured hosts and origins", async () => {
    const r = await rig({ allowedHosts: ["mcp.example.com"], allowedOrigins: ["https://app.example.com"] });
    const body = JSON.stringify(INITIALIZE);
    const status = async (headers: Record<string, string>) =>
      (await raw(r.server.url, { headers: { ...MCP_HEADERS, ...headers }, body })).status;
    expect(await status({ host: "mcp.example.com", origin: "https://mcp.example.com" })).toBe(200);
    expect(await status({ origin: "https://app.example.com" })).toBe(200);
    expect(await status({ origin: "https://other.example.com" })).toBe(403);
    const preflight = await raw(r.server.url, {
      method: "OPTIONS",
      headers: { origin: "https://app.example.com", "access-control-request-method": "POST" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers["access-control-allow-origin"]).toBe("https://app.example.com");
    expect(String(preflight.headers["access-control-expose-headers"])).toContain("mcp-session-id");
    const local = await raw(r.server.url, {
      method: "OPTIONS",
      headers: { origin: "http://localhost:5173", "access-control-request-method": "POST" },
    });
    expect(local.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("serves on ::1 end to end", async () => {
    const r = await rig({ host: "::1" });
    expect(r.server.url).toBe(`http://[::1]:${r.server.port}/mcp`);
    const client = await r.client();
    const { job_id } = structured<{ job_id: string }>(
      await client.callTool({ name: "start_square", arguments: { n: 4 } }),
    );
    const out = structured<{ jobs: { result: { square: number } }[] }>(
      await client.callTool({ name: "await_square", arguments: { job_ids: [job_id] } }),
    );
    expect(out.jobs[0]?.result.square).toBe(16);
  });

  it("answers 413 for a body over the limit", async () => {
    const r = await rig({ maxBodyBytes: 1024 });
    const big = JSON.stringify({ ...INITIALIZE, params: { ...INITIALIZE.params, pad: "x".repeat(2048) } });
    const res = await raw(r.server.url, { headers: MCP_HEADERS, body: big });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body).error.code).toBe(-32600);
    // A big upload is read on, so its sender gets the answer rather than a connection reset.
    const huge = await raw(r.server.url, { headers: MCP_HEADERS, body: "x".repeat(8 * 1024 * 1024) });
    expect(huge.status).toBe(413);
  });

  it("answers /healthz and /readyz without auth, and /readyz 503 once the store is gone", async () => {
    const r = await rig({ auth: { token: "s3cret" } });
    const base = new URL(r.server.url).origin;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: "ready" });
    expect((await fetch(r.server.url, { method: "POST", headers: MCP_HEADERS, body: "{}" })).status).toBe(
      401,
    );
    await r.runtime.close();
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
  });

  it("accepts the bearer scheme in any case and refuses wrong tokens with 401", async () => {
    const r = await rig({ auth: { token: "s3cret" } });
    const body = JSON.stringify(INITIALIZE);
    const status = async (authorization?: string) =>
      (
        await raw(r.server.url, {
          headers: { ...MCP_HEADERS, ...(authorization ? { authorization } : {}) },
          body,
        })
      ).status;
    expect(await status("bearer s3cret")).toBe(200);
    expect(await status("BEARER s3cret")).toBe(200);
    expect(await status("Bearer s3cret")).toBe(200);
    expect(await status("Bearer s3cre")).toBe(401);
    expect(await status("Bearer s3cretX")).toBe(401);
    expect(await status("Basic s3cret")).toBe(401);
    expect(await status()).toBe(401);
    const client = await r.client({ token: "s3cret", scheme: "bearer" });
    expect((await client.listTools()).tools.map((t) => t.name)).toContain("start_square");
  });

  it("mounts extra routes behind the same auth, passing the principal", async () => {
    const seen: (string | undefined)[] = [];
    const r = await rig({
      auth: { tokens: { alice: "T1", bob: "T2" } },
      routes: {
        "/jobs": async (request, { principal }) => {
          seen.push(principal, request.headers.get("x-async-tools-principal") ?? undefined);
          return new Response(`hello ${principal} at ${new URL(request.url).pathname}`);
        },
      },
    });
    const base = new URL(r.server.url).origin;
    expect((await fetch(`${base}/jobs`)).status).toBe(401);
    const res = await fetch(`${base}/jobs/abc`, {
      headers: { authorization: "Bearer T2", "x-async-tools-principal": "alice" },
    });
    expect(await res.text()).toBe("hello bob at /jobs/abc");
    expect(seen).toEqual(["bob", "bob"]);
    expect((await fetch(`${base}/elsewhere`, { headers: { authorization: "Bearer T1" } })).status).toBe(404);
  });
});

describe("serveHttp beyond loopback", () => {
  it("refuses to listen on every interface without auth, naming the option that allows it", async () => {
    await using runtime = await createAsyncTools({ store: "memory", tools: [squareTool({ runs: 0 })] });
    const refused = serveHttp(runtime, { host: "0.0.0.0", port: 0 });
    await expect(refused).rejects.toMatchObject({ code: "INVALID_CONFIG" });
    await expect(refused).rejects.toThrow(/allowUnauthenticated: true/);
  });

  it("listens on every interface when told to, answering on loopback through that socket", async () => {
    await using runtime = await createAsyncTools({ store: "memory", tools: [squareTool({ runs: 0 })] });
    await using open = await serveHttp(runtime, { host: "0.0.0.0", port: 0, allowUnauthenticated: true });
    expect(new URL(open.url).hostname).toBe("0.0.0.0");
    // Only loopback traffic: the wildcard socket answers 127.0.0.1 as it would any interface.
    const health = await fetch(`http://127.0.0.1:${open.port}/healthz`);
    expect(health.status).toBe(200);
    await using guarded = await serveHttp(runtime, { host: "0.0.0.0", port: 0, auth: { token: "T" } });
    expect((await fetch(`http://127.0.0.1:${guarded.port}/mcp`, { method: "POST" })).status).toBe(401);
  });
});

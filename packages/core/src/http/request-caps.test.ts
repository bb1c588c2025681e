import { MCP_HEADERS, structured } from "@async-tools/test-helpers/mcp";
import { describe, expect, it } from "vitest";
import { gate } from "../../test/helpers.ts";
import { rig } from "../../test/http-rig.ts";

/** A JSON-RPC `tools/call` over plain fetch, as any HTTP client sends it (stateless: no initialize needed). */
function call(url: string, name: string, args: Record<string, unknown>, token?: string): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { ...MCP_HEADERS, ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name, arguments: args } }),
  });
}

describe("serveHttp's bounds on concurrent requests", () => {
  it("answers 503 with Retry-After past the server's request cap, and serves again once requests end", async () => {
    const hold = gate();
    const r = await rig({ maxConcurrentRequests: 3 }, hold.promise);
    const client = await r.client();
    const { job_id } = structured<{ job_id: string }>(
      await client.callTool({ name: "start_square", arguments: { n: 3 } }),
    );
    const waits = [1, 2, 3].map(() => call(r.server.url, "await_square", { job_ids: [job_id] }));
    await expect.poll(() => r.server.handler.openExchanges, { timeout: 20_000 }).toBe(3);
    const refused = await call(r.server.url, "probe_square", { job_ids: [job_id] });
    expect(refused.status).toBe(503);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await refused.text()).toContain("busy");
    // Probes of health stay outside the cap.
    expect((await fetch(r.server.url.replace("/mcp", "/healthz"))).status).toBe(200);
    hold.open();
    for (const wait of await Promise.all(waits)) {
      expect(wait.status).toBe(200);
      await wait.text();
    }
    expect((await call(r.server.url, "probe_square", { job_ids: [job_id] })).status).toBe(200);
  });

  it("answers 429 with Retry-After past a principal's await cap, leaving other calls and callers alone", async () => {
    const hold = gate();
    const r = await rig(
      { auth: { tokens: { alice: "TA", bob: "TB" } }, maxAwaitsPerPrincipal: 2 },
      hold.promise,
    );
    const start = async (token: string) =>
      structured<{ job_id: string }>(
        await (await r.client({ token })).callTool({ name: "start_square", arguments: { n: 4 } }),
      ).job_id;
    const alice = await start("TA");
    const bob = await start("TB");
    const waits = [1, 2].map(() => call(r.server.url, "await_square", { job_ids: [alice] }, "TA"));
    await expect.poll(() => r.server.handler.openExchanges, { timeout: 20_000 }).toBe(2);
    const refused = await call(r.server.url, "await_square", { job_ids: [alice] }, "TA");
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await refused.text()).toContain("await");
    const probe = await call(r.server.url, "probe_square", { job_ids: [alice] }, "TA");
    expect(probe.status).toBe(200);
    await probe.text();
    const bobWait = call(r.server.url, "await_square", { job_ids: [bob] }, "TB");
    await expect.poll(() => r.server.handler.openExchanges, { timeout: 20_000 }).toBe(3);
    hold.open();
    for (const wait of await Promise.all([...waits, bobWait])) {
      expect(wait.status).toBe(200);
      await wait.text();
    }
    const again = await call(r.server.url, "await_square", { job_ids: [alice] }, "TA");
    expect(again.status).toBe(200);
    await again.text();
  });
});

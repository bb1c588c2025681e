import type { ProgressNotification } from "@modelcontextprotocol/sdk/types.js";
import { describe, expect, it } from "vitest";
import { gate } from "../../test/helpers.ts";
import { INITIALIZE, MCP_HEADERS, raw, rig, structured } from "./test-rig.ts";

describe("serveHttp, stateless (the default)", () => {
  it("starts and awaits a job, streaming the await's progress in that request's response", async () => {
    const hold = gate();
    const r = await rig({}, hold.promise);
    const client = await r.client();
    const { job_id } = structured<{ job_id: string }>(
      await client.callTool({ name: "start_square", arguments: { n: 7 } }),
    );
    const progress: ProgressNotification["params"][] = [];
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
});

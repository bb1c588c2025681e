/**
 * `serveHttp` on the v2 face: one endpoint for a v2 Client speaking 2026-07-28 and for a v1 Client speaking
 * 2025-11-25, with the same tools, jobs bound to each caller, sessions for 2025-11-25 clients when stateful,
 * the Host/Origin checks, and the 2026-07-28 Tasks extension through the ext-tasks client session.
 */

import { INITIALIZE, MCP_HEADERS, raw, structured, textOf } from "@async-tools/test-helpers/mcp";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { createTaskSessionFromClient, resultFromTaskOutcome } from "@modelcontextprotocol/ext-tasks/client";
import { describe, expect, it } from "vitest";
import { gate } from "../../../test/helpers.ts";
import { onCleanup, type Rig, rig } from "../../../test/http-rig.ts";
import { rawDispatch } from "../../../test/raw-dispatch.ts";
import { TASKS_EXTENSION_CAPABILITY } from "../../../test/stdio-rig.ts";
import { defaultMcpHandler } from "../../http/default-mcp.ts";
import type { ServeHttpOptions, TokenVerifier } from "../../http/index.ts";
import { AsyncToolsError } from "../../index.ts";
import { createMcpHandler } from "./http-handler.ts";

/** A `serveHttp` rig on the v2 face. */
function v2Rig(options: ServeHttpOptions = {}, hold?: Promise<void>): Promise<Rig> {
  return rig({ ...options, face: (runtime) => createMcpHandler(runtime) }, hold);
}

/** A v2 Client that negotiates (2026-07-28 against this server), with its transport. */
async function modernClient(
  url: string,
  options: { token?: string; capabilities?: Record<string, unknown> } = {},
) {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    ...(options.token ? { requestInit: { headers: { authorization: `Bearer ${options.token}` } } } : {}),
  });
  const client = new Client(
    { name: "v2-http-test", version: "0" },
    { capabilities: options.capabilities ?? {}, versionNegotiation: { mode: "auto" } },
  );
  await client.connect(transport);
  onCleanup(() => client.close().catch(() => undefined));
  expect(client.getProtocolEra()).toBe("modern");
  return { client, transport };
}

/** What both generations' clients offer for a tool call. */
type Caller = { callTool(params: { name: string; arguments: Record<string, unknown> }): Promise<unknown> };

async function startSquare(caller: Caller, n: number) {
  return structured<{ job_id: string; created: boolean }>(
    await caller.callTool({ name: "start_square", arguments: { n } }),
  );
}

/** Alice and Bob start the same arguments: two jobs, two runs, and each one's job is unknown to the other. */
async function twoCallers(r: Rig, alice: Caller, bob: Caller): Promise<void> {
  const a = await startSquare(alice, 5);
  const b = await startSquare(bob, 5);
  expect(a.created && b.created).toBe(true);
  expect(a.job_id).not.toBe(b.job_id);
  for (const [caller, id] of [
    [alice, a.job_id],
    [bob, b.job_id],
  ] as const) {
    const out = structured<{ done: boolean }>(
      await caller.callTool({ name: "await_square", arguments: { job_ids: [id] } }),
    );
    expect(out.done).toBe(true);
  }
  expect(r.counter.runs).toBe(2);
  const cross = structured<{ jobs: { job_id: string; status: string }[] }>(
    await alice.callTool({ name: "await_square", arguments: { job_ids: [b.job_id, a.job_id] } }),
  );
  expect(cross.jobs[0]).toMatchObject({ job_id: b.job_id, status: "not_found" });
  expect(cross.jobs[1]).toMatchObject({ job_id: a.job_id, status: "completed" });
  const probe = await bob.callTool({ name: "probe_square", arguments: { job_ids: [a.job_id] } });
  expect(textOf(probe)).toContain("No job found");
  expect(await startSquare(alice, 5)).toMatchObject({ job_id: a.job_id, created: false });
}

describe("serveHttp on the v2 face", () => {
  it("serves a 2026-07-28 v2 Client and a 2025-11-25 v1 Client the same tools and jobs on one endpoint", async () => {
    const hold = gate();
    const r = await v2Rig({}, hold.promise);
    const { client: modern } = await modernClient(r.server.url);
    const legacy = await r.client();
    const modernNames = (await modern.listTools()).tools.map((t) => t.name).sort();
    const legacyNames = (await legacy.listTools()).tools.map((t) => t.name).sort();
    expect(modernNames).toEqual(["await_square", "cancel_square", "probe_square", "square", "start_square"]);
    expect(legacyNames).toEqual(modernNames);

    const { job_id } = await startSquare(modern, 7);
    // The blocking await streams its progress in its own response.
    const progress: unknown[] = [];
    const awaited = modern.callTool(
      { name: "await_square", arguments: { job_ids: [job_id] } },
      {
        onprogress: (p) => {
          progress.push(p);
          if (progress.length === 1) hold.open();
        },
      },
    );
    const out = structured<{ jobs: { status: string; result: unknown }[] }>(await awaited);
    expect(out.jobs[0]).toMatchObject({ status: "completed", result: { square: 49, label: "x" } });
    expect(progress.length).toBeGreaterThan(0);

    // The v1 Client joins the same job (no auth: one principal) and reads its result.
    expect(await startSquare(legacy, 7)).toMatchObject({ job_id, created: false });
    const probed = structured<{ jobs: { status: string }[] }>(
      await legacy.callTool({ name: "probe_square", arguments: { job_ids: [job_id] } }),
    );
    expect(probed.jobs[0]?.status).toBe("completed");
    expect(r.counter.runs).toBe(1);
    await expect.poll(() => r.server.handler.openExchanges).toBe(0);
    expect(r.server.handler.sessionCount).toBe(0);
  });

  it("ends a 2026-07-28 exchange when the client gives up mid-await", async () => {
    const hold = gate();
    const r = await v2Rig({}, hold.promise);
    onCleanup(() => hold.open());
    const { client: modern } = await modernClient(r.server.url);
    const { job_id } = await startSquare(modern, 4);
    const controller = new AbortController();
    let progressed!: () => void;
    const firstProgress = new Promise<void>((resolve) => {
      progressed = resolve;
    });
    const awaited = modern.callTool(
      { name: "await_square", arguments: { job_ids: [job_id] } },
      { signal: controller.signal, onprogress: () => progressed() },
    );
    await firstProgress;
    expect(r.server.handler.openExchanges).toBe(1);
    controller.abort();
    await expect(awaited).rejects.toThrow();
    await expect.poll(() => r.server.handler.openExchanges).toBe(0);
  });

  it("binds jobs to the static-token principal on both generations", async () => {
    const auth = { tokens: { alice: "T1", bob: "T2" } };
    const modern = await v2Rig({ auth });
    await twoCallers(
      modern,
      (await modernClient(modern.server.url, { token: "T1" })).client,
      (await modernClient(modern.server.url, { token: "T2" })).client,
    );
    const legacy = await v2Rig({ auth });
    await twoCallers(legacy, await legacy.client({ token: "T1" }), await legacy.client({ token: "T2" }));
  });

  it("binds jobs to the OAuth token's subject on both generations", async () => {
    const verifier: TokenVerifier = {
      async verifyAccessToken(token) {
        const sub = { "tok-a": "user-a", "tok-b": "user-b" }[token];
        if (sub === undefined) throw new Error("Unknown token");
        const expiresAt = Math.floor(Date.now() / 1000) + 3600;
        return { token, clientId: "shared-app", scopes: ["jobs"], expiresAt, extra: { sub } };
      },
    };
    const auth = { oauth: { verifier, authorizationServers: ["https://auth.example.com"] } };
    const modern = await v2Rig({ auth });
    await twoCallers(
      modern,
      (await modernClient(modern.server.url, { token: "tok-a" })).client,
      (await modernClient(modern.server.url, { token: "tok-b" })).client,
    );
    const legacy = await v2Rig({ auth });
    await twoCallers(
      legacy,
      await legacy.client({ token: "tok-a" }),
      await legacy.client({ token: "tok-b" }),
    );
  });

  it("streams a blocking await's progress to a 2025-11-25 v1 Client too", async () => {
    const hold = gate();
    const r = await v2Rig({}, hold.promise);
    const legacy = await r.client();
    const { job_id } = await startSquare(legacy, 6);
    const progress: unknown[] = [];
    const awaited = legacy.callTool({ name: "await_square", arguments: { job_ids: [job_id] } }, undefined, {
      onprogress: (p) => {
        progress.push(p);
        if (progress.length === 1) hold.open();
      },
    });
    const out = structured<{ jobs: { status: string; result: unknown }[] }>(await awaited);
    expect(out.jobs[0]).toMatchObject({ status: "completed", result: { square: 36, label: "x" } });
    expect(progress.length).toBeGreaterThan(0);
  });

  it("binds a 2025-11-25 session to the principal that opened it", async () => {
    const r = await v2Rig({ stateful: true, auth: { tokens: { alice: "T1", bob: "T2" } } });
    await twoCallers(r, await r.client({ token: "T1" }), await r.client({ token: "T2" }));
    const init = await raw(r.server.url, {
      headers: { ...MCP_HEADERS, authorization: "Bearer T1" },
      body: JSON.stringify(INITIALIZE),
    });
    const session = String(init.headers["mcp-session-id"]);
    const ping = JSON.stringify({ jsonrpc: "2.0", id: 2, method: "ping" });
    const headers = { ...MCP_HEADERS, "mcp-session-id": session, "mcp-protocol-version": "2025-11-25" };
    const asBob = await raw(r.server.url, {
      headers: { ...headers, authorization: "Bearer T2" },
      body: ping,
    });
    expect(asBob.status).toBe(404);
    const asAlice = await raw(r.server.url, {
      headers: { ...headers, authorization: "Bearer T1" },
      body: ping,
    });
    expect(asAlice.status).toBe(200);
  });

  it("keeps sessions for 2025-11-25 clients when stateful (404 unknown, DELETE ends one) and serves 2026-07-28 without", async () => {
    const r = await v2Rig({ stateful: true });
    const legacy = await r.client();
    expect((await startSquare(legacy, 3)).created).toBe(true);
    expect(r.server.handler.sessionCount).toBe(1);

    const { client: modern } = await modernClient(r.server.url);
    expect(await startSquare(modern, 3)).toMatchObject({ created: false });
    expect(r.server.handler.sessionCount).toBe(1);

    const ping = JSON.stringify({ jsonrpc: "2.0", id: 2, method: "ping" });
    const unknown = await raw(r.server.url, {
      headers: { ...MCP_HEADERS, "mcp-session-id": "no-such-session", "mcp-protocol-version": "2025-11-25" },
      body: ping,
    });
    expect(unknown.status).toBe(404);

    const init = await raw(r.server.url, { headers: MCP_HEADERS, body: JSON.stringify(INITIALIZE) });
    const session = String(init.headers["mcp-session-id"]);
    expect(r.server.handler.sessionCount).toBe(2);
    const headers = { ...MCP_HEADERS, "mcp-session-id": session, "mcp-protocol-version": "2025-11-25" };
    const deleted = await raw(r.server.url, { method: "DELETE", headers });
    expect(deleted.status).toBe(200);
    expect(r.server.handler.sessionCount).toBe(1);
    expect((await raw(r.server.url, { headers, body: ping })).status).toBe(404);
  });

  it("refuses a forged Origin or Host with 403", async () => {
    const r = await v2Rig();
    const discover = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "server/discover", params: {} });
    const forgedOrigin = await raw(r.server.url, {
      headers: { ...MCP_HEADERS, origin: "http://evil.example" },
      body: discover,
    });
    expect(forgedOrigin.status).toBe(403);
    const forgedHost = await raw(r.server.url, {
      headers: { ...MCP_HEADERS, host: "evil.example" },
      body: JSON.stringify(INITIALIZE),
    });
    expect(forgedHost.status).toBe(403);
  });

  it("serves the 2026-07-28 Tasks extension to an ext-tasks client session, bound to its caller", async () => {
    const r = await v2Rig({ auth: { tokens: { alice: "T1", bob: "T2" } } });
    const session = async (token: string) => {
      const { client, transport } = await modernClient(r.server.url, {
        token,
        capabilities: TASKS_EXTENSION_CAPABILITY,
      });
      const tasks = createTaskSessionFromClient(client, {
        endpointId: `v2-http-${token}`,
        rawDispatch: rawDispatch(transport),
        v2RequestFraming: {
          protocolVersion: client.getNegotiatedProtocolVersion() as string,
          clientInfo: { name: "v2-http-test", version: "0" },
          clientCapabilities: TASKS_EXTENSION_CAPABILITY,
        },
      });
      onCleanup(() => tasks.close().catch(() => undefined));
      return tasks;
    };
    const alice = await session("T1");
    const execution = await alice.callTool("square", { n: 9 });
    if (execution.kind !== "task") throw new Error("expected a task");
    const { outcome } = await execution.settle();
    const result = resultFromTaskOutcome(outcome) as { structuredContent?: unknown };
    expect(result.structuredContent).toEqual({ square: 81, label: "x" });

    // Bob's start of the same arguments is his own job; Alice's task ID is unknown to him.
    const bob = (await modernClient(r.server.url, { token: "T2" })).client;
    const his = await startSquare(bob, 9);
    expect(his.job_id).not.toBe(execution.handle.taskId);
    const probe = await bob.callTool({
      name: "probe_square",
      arguments: { job_ids: [execution.handle.taskId] },
    });
    expect(textOf(probe)).toContain("No job found");
  });
});

describe("the default MCP face of serveHttp", () => {
  const missing = (name: string) =>
    Object.assign(new Error(`Cannot find package '${name}'`), { code: "ERR_MODULE_NOT_FOUND" });

  it("is v1 when the v1 SDK is installed, v2 when only the v2 SDK is, and a configuration error with neither", async () => {
    const r = await rig();
    const faces = {
      v1: {
        createMcpHandler: () => ({
          open: async () => {
            throw new Error("v1");
          },
        }),
      },
    };
    const chosen: string[] = [];
    const load = (installed: ("v1" | "v2")[]) => async (generation: "v1" | "v2") => {
      if (!installed.includes(generation)) throw missing(generation);
      chosen.push(generation);
      return generation === "v1" ? faces.v1 : { createMcpHandler };
    };
    await defaultMcpHandler(r.runtime, load(["v1", "v2"]));
    const v2Only = await defaultMcpHandler(r.runtime, load(["v2"]));
    expect(chosen).toEqual(["v1", "v2"]);
    expect(v2Only.sessionless).toBeTypeOf("function");
    const neither = defaultMcpHandler(r.runtime, load([]));
    await expect(neither).rejects.toBeInstanceOf(AsyncToolsError);
    await expect(neither).rejects.toThrow(/@modelcontextprotocol\/server/);
  });
});

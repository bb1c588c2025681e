import { INITIALIZE, MCP_HEADERS, raw, structured, textOf } from "@async-tools/test-helpers/mcp";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InvalidTokenError } from "@modelcontextprotocol/sdk/server/auth/errors.js";
import { ListTasksResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { describe, expect, it } from "vitest";
import { type Rig, rig } from "../../test/http-rig.ts";
import type { HttpAuthInfo, TokenVerifier } from "./index.ts";

/** Alice and Bob start the same arguments; each sees only their own job. */
async function twoCallers(r: Rig, alice: Client, bob: Client): Promise<void> {
  const a = structured<{ job_id: string; created: boolean }>(
    await alice.callTool({ name: "start_square", arguments: { n: 5 } }),
  );
  const b = structured<{ job_id: string; created: boolean }>(
    await bob.callTool({ name: "start_square", arguments: { n: 5 } }),
  );
  expect(a.created).toBe(true);
  expect(b.created).toBe(true);
  expect(a.job_id).not.toBe(b.job_id);
  for (const [client, id] of [
    [alice, a.job_id],
    [bob, b.job_id],
  ] as const) {
    const out = structured<{ done: boolean }>(
      await client.callTool({ name: "await_square", arguments: { job_ids: [id] } }),
    );
    expect(out.done).toBe(true);
  }
  expect(r.counter.runs).toBe(2);

  // Each one's ID is unknown to the other: not found, never forbidden.
  const crossProbe = await bob.callTool({ name: "probe_square", arguments: { job_ids: [a.job_id] } });
  expect(structured<{ jobs: unknown[] }>(crossProbe).jobs).toMatchObject([
    { job_id: a.job_id, status: "not_found" },
  ]);
  expect(textOf(crossProbe)).toContain("No job found");
  const crossAwait = await alice.callTool({
    name: "await_square",
    arguments: { job_ids: [b.job_id, a.job_id] },
  });
  const jobs = structured<{ jobs: { job_id: string; status: string; result?: unknown }[] }>(crossAwait).jobs;
  expect(jobs[0]).toMatchObject({ job_id: b.job_id, status: "not_found" });
  expect(jobs[0]?.result).toBeUndefined();
  expect(jobs[1]).toMatchObject({ job_id: a.job_id, status: "completed" });
  const crossCancel = await alice.callTool({ name: "cancel_square", arguments: { job_ids: [b.job_id] } });
  expect(structured<{ jobs: unknown[] }>(crossCancel).jobs).toMatchObject([
    { job_id: b.job_id, status: "not_found" },
  ]);

  // Joining is per principal: the same arguments again join one's own job.
  const again = structured<{ job_id: string; created: boolean }>(
    await alice.callTool({ name: "start_square", arguments: { n: 5 } }),
  );
  expect(again).toMatchObject({ job_id: a.job_id, created: false });

  const aliceTasks = await alice.request({ method: "tasks/list", params: {} }, ListTasksResultSchema);
  expect(aliceTasks.tasks.map((t) => t.taskId)).toEqual([a.job_id]);
  const bobTasks = await bob.request({ method: "tasks/list", params: {} }, ListTasksResultSchema);
  expect(bobTasks.tasks.map((t) => t.taskId)).toEqual([b.job_id]);
  await expect(
    alice.request({ method: "tasks/get", params: { taskId: b.job_id } }, ListTasksResultSchema),
  ).rejects.toThrow(/not found/i);
}

describe("jobs bound to their caller", () => {
  it("gives two static-token principals two jobs for the same arguments, each blind to the other's", async () => {
    const r = await rig({ auth: { tokens: { alice: "T1", bob: "T2" } } });
    await twoCallers(r, await r.client({ token: "T1" }), await r.client({ token: "T2" }));
  });

  it("binds a stateful session to the principal that opened it", async () => {
    const r = await rig({ stateful: true, auth: { tokens: { alice: "T1", bob: "T2" } } });
    await twoCallers(r, await r.client({ token: "T1" }), await r.client({ token: "T2" }));
    const init = await raw(r.server.url, {
      headers: { ...MCP_HEADERS, authorization: "Bearer T1" },
      body: JSON.stringify(INITIALIZE),
    });
    const ping = JSON.stringify({ jsonrpc: "2.0", id: 2, method: "ping" });
    const session = String(init.headers["mcp-session-id"]);
    const as = async (token: string) =>
      (
        await raw(r.server.url, {
          headers: { ...MCP_HEADERS, authorization: `Bearer ${token}`, "mcp-session-id": session },
          body: ping,
        })
      ).status;
    expect(await as("T2")).toBe(404);
    expect(await as("T1")).toBe(200);
  });

  it("keeps today's job IDs with a single token: one caller", async () => {
    const r = await rig({ auth: { token: "only" } });
    const client = await r.client({ token: "only" });
    const { job_id } = structured<{ job_id: string }>(
      await client.callTool({ name: "start_square", arguments: { n: 5 } }),
    );
    const [programmatic] = await r.runtime.probe([job_id]);
    expect(programmatic?.status).not.toBe("not_found");
    expect((await r.runtime.start(r.runtime.tools[0] as never, { n: 5 } as never)).jobId).toBe(job_id);
  });
});

/** A verifier that knows two tokens, both of one OAuth client, for two users. */
const verifier: TokenVerifier = {
  async verifyAccessToken(token: string): Promise<HttpAuthInfo> {
    const expiresAt = Math.floor(Date.now() / 1000) + 3600;
    const users: Record<string, HttpAuthInfo> = {
      "tok-a": { token, clientId: "shared-app", scopes: ["jobs"], expiresAt, extra: { sub: "user-a" } },
      "tok-b": { token, clientId: "shared-app", scopes: ["jobs"], expiresAt, extra: { sub: "user-b" } },
      "tok-expired": { token, clientId: "x", scopes: ["jobs"], expiresAt: 1, extra: { sub: "user-c" } },
      "tok-noscope": { token, clientId: "x", scopes: [], expiresAt, extra: { sub: "user-d" } },
      // A verifier that copies every claim: this token names another principal in a claim of its own.
      "tok-claims-a": {
        token,
        clientId: "shared-app",
        scopes: ["jobs"],
        expiresAt,
        extra: { sub: "user-b", "async-tools:principal": "user-a" },
      },
    };
    const found = users[token];
    if (found === undefined) throw new InvalidTokenError("Unknown token");
    return found;
  },
};

describe("OAuth resource-server mode", () => {
  const oauth = { verifier, authorizationServers: ["https://auth.example.com"], requiredScopes: ["jobs"] };

  it("binds jobs to the token's subject, not to the shared client ID", async () => {
    const r = await rig({ auth: { oauth } });
    await twoCallers(r, await r.client({ token: "tok-a" }), await r.client({ token: "tok-b" }));
  });

  it("binds jobs to the verified subject even when the token claims another principal", async () => {
    const r = await rig({ auth: { oauth } });
    const alice = await r.client({ token: "tok-a" });
    const claimer = await r.client({ token: "tok-claims-a" });
    const { job_id } = structured<{ job_id: string }>(
      await alice.callTool({ name: "start_square", arguments: { n: 7 } }),
    );
    const seen = await claimer.callTool({ name: "probe_square", arguments: { job_ids: [job_id] } });
    expect(structured<{ jobs: { job_id: string; status: string }[] }>(seen).jobs).toEqual([
      expect.objectContaining({ job_id, status: "not_found" }),
    ]);
    // Its subject is user-b: it joins user-b's jobs, not user-a's.
    const bob = await r.client({ token: "tok-b" });
    const own = structured<{ job_id: string }>(
      await bob.callTool({ name: "start_square", arguments: { n: 7 } }),
    );
    const joined = structured<{ job_id: string; created: boolean }>(
      await claimer.callTool({ name: "start_square", arguments: { n: 7 } }),
    );
    expect(joined).toMatchObject({ job_id: own.job_id, created: false });
  });

  it("publishes protected-resource metadata and points 401s at it", async () => {
    const r = await rig({ auth: { oauth } });
    const base = new URL(r.server.url).origin;
    for (const path of [
      "/.well-known/oauth-protected-resource/mcp",
      "/.well-known/oauth-protected-resource",
    ]) {
      const meta = await fetch(`${base}${path}`);
      expect(meta.status).toBe(200);
      expect(await meta.json()).toMatchObject({
        resource: r.server.url,
        authorization_servers: ["https://auth.example.com"],
        scopes_supported: ["jobs"],
      });
    }
    const body = JSON.stringify(INITIALIZE);
    const call = (token?: string) =>
      raw(r.server.url, {
        headers: { ...MCP_HEADERS, ...(token ? { authorization: `bearer ${token}` } : {}) },
        body,
      });
    const none = await call();
    expect(none.status).toBe(401);
    expect(String(none.headers["www-authenticate"])).toContain(
      `resource_metadata="${base}/.well-known/oauth-protected-resource/mcp"`,
    );
    expect((await call("tok-unknown")).status).toBe(401);
    expect((await call("tok-expired")).status).toBe(401);
    const scope = await call("tok-noscope");
    expect(scope.status).toBe(403);
    expect(String(scope.headers["www-authenticate"])).toContain('error="insufficient_scope"');
    expect((await call("tok-a")).status).toBe(200);
  });
});

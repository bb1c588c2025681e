import { request } from "node:http";
import { join } from "node:path";
import { structured } from "@async-tools/test-helpers/mcp";
import { tempDir } from "@async-tools/test-helpers/temp";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import { startHttpServer } from "./harness.ts";
import { startFakeOpenMeteo } from "./support/fake-open-meteo.ts";

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

describe("the weather server over Streamable HTTP", () => {
  it("gathers a month end to end, behind a bearer token and DNS-rebinding protection", async () => {
    const dir = tempDir("weather");
    const fake = await startFakeOpenMeteo();
    cleanup.push(
      () => dir[Symbol.dispose](),
      () => fake.close(),
    );
    const server = await startHttpServer(`sqlite:${join(dir.path, "jobs.db")}`, fake.url, "s3cret");
    cleanup.push(() => server.close());

    const { job_name } = structured<{ job_name: string }>(
      await server.call("start_gathering", { latitude: 51.05, longitude: -114.07, year: 2023, month: 7 }),
    );
    const out = structured<{ jobs: { status: string; result: { days: unknown[] } }[] }>(
      await server.call("await_result", { job_names: [job_name], timeout_seconds: 20 }),
    );
    expect(out.jobs[0]?.status).toBe("completed");
    expect(out.jobs[0]?.result.days).toHaveLength(31);

    const initialize = {
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "0" } },
    };
    const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" };
    const noToken = await fetch(server.url, { method: "POST", headers, body: JSON.stringify(initialize) });
    expect(noToken.status).toBe(401);
    // fetch cannot forge the Host header; node:http can, as a rebinding page's browser would send it.
    const rebound = await new Promise<number>((resolve, reject) => {
      const req = request(server.url, {
        method: "POST",
        headers: { ...headers, authorization: "Bearer s3cret", host: "evil.example" },
      });
      req.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end(JSON.stringify(initialize));
    });
    expect(rebound).toBe(403);
  });
});

describe("the weather server with a token per principal", () => {
  it("gives alice and bob two jobs and two upstream calls for one month, each blind to the other's", async () => {
    const dir = tempDir("weather");
    const fake = await startFakeOpenMeteo();
    cleanup.push(
      () => dir[Symbol.dispose](),
      () => fake.close(),
    );
    const alice = await startHttpServer(`sqlite:${join(dir.path, "jobs.db")}`, fake.url, "T1", [
      "alice=T1",
      "bob=T2",
    ]);
    cleanup.push(() => alice.close());
    const bob = new Client({ name: "bob", version: "0" });
    await bob.connect(
      new StreamableHTTPClientTransport(new URL(alice.url), {
        requestInit: { headers: { authorization: "bearer T2" } },
      }),
    );
    cleanup.push(() => bob.close());
    const month = { latitude: 51.05, longitude: -114.07, year: 2023, month: 7 };
    const a = structured<{ job_name: string }>(await alice.call("start_gathering", month));
    const b = structured<{ job_name: string }>(
      (await bob.callTool({ name: "start_gathering", arguments: month })) as CallToolResult,
    );
    expect(a.job_name).not.toBe(b.job_name);
    await alice.call("await_result", { job_names: [a.job_name], timeout_seconds: 20 });
    await bob.callTool({ name: "await_result", arguments: { job_names: [b.job_name], timeout_seconds: 20 } });
    expect(fake.requests()).toBe(2);
    const cross = (await bob.callTool({
      name: "probe_status",
      arguments: { job_names: [a.job_name] },
    })) as CallToolResult;
    expect(cross.isError).toBeUndefined();
    expect(cross.structuredContent).toMatchObject({ jobs: [{ job_name: a.job_name, status: "not_found" }] });
    expect(JSON.stringify(cross.content)).toContain("No job found");
  });

  it("serves the jobs dashboard at /jobs behind the same tokens: each caller sees its own jobs, an operator all", async () => {
    const dir = tempDir("weather");
    const fake = await startFakeOpenMeteo();
    cleanup.push(
      () => dir[Symbol.dispose](),
      () => fake.close(),
    );
    const alice = await startHttpServer(
      `sqlite:${join(dir.path, "jobs.db")}`,
      fake.url,
      "T1",
      ["alice=T1", "bob=T2", "ops=T3"],
      ["--operator", "ops"],
    );
    cleanup.push(() => alice.close());
    const bob = new Client({ name: "bob", version: "0" });
    await bob.connect(
      new StreamableHTTPClientTransport(new URL(alice.url), {
        requestInit: { headers: { authorization: "Bearer T2" } },
      }),
    );
    cleanup.push(() => bob.close());
    const a = structured<{ job_name: string }>(
      await alice.call("start_gathering", { latitude: 51.05, longitude: -114.07, year: 2023, month: 7 }),
    );
    const b = structured<{ job_name: string }>(
      (await bob.callTool({
        name: "start_gathering",
        arguments: { latitude: 48.85, longitude: 2.35, year: 2023, month: 8 },
      })) as CallToolResult,
    );
    const origin = new URL(alice.url).origin;
    const page = async (token?: string, path = "/jobs/") => {
      const res = await fetch(`${origin}${path}`, {
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      });
      return { status: res.status, html: await res.text() };
    };
    expect((await page()).status).toBe(401);
    const seen = async (token: string) => {
      const { status, html } = await page(token);
      expect(status).toBe(200);
      return [a.job_name, b.job_name].filter((id) => html.includes(`data-job="${id}"`));
    };
    expect(await seen("T1")).toEqual([a.job_name]);
    expect(await seen("T2")).toEqual([b.job_name]);
    expect(await seen("T3")).toEqual([a.job_name, b.job_name]);
    // Another caller's job page is not found; its owner's and the operator's show its input.
    expect((await page("T2", `/jobs/job/${encodeURIComponent(a.job_name)}`)).status).toBe(404);
    expect((await page("T1", `/jobs/job/${encodeURIComponent(a.job_name)}`)).html).toContain("51.05");
    expect((await page("T3", `/jobs/job/${encodeURIComponent(b.job_name)}`)).html).toContain("48.85");
  });
});

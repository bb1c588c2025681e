import { request } from "node:http";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startHttpServer, structured, tempDir } from "./harness.ts";
import { startFakeOpenMeteo } from "./support/fake-open-meteo.ts";

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

describe("the weather server over Streamable HTTP", () => {
  it("gathers a month end to end, behind a bearer token and DNS-rebinding protection", async () => {
    const dir = tempDir();
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

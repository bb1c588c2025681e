/**
 * The weather server on the v2 SDK, its default: over Streamable HTTP and stdio, a v2 Client speaking
 * 2026-07-28 gathers a month; over HTTP a v1 Client on the same endpoint sees the same tools. `--sdk v1`
 * keeps the v1 SDK, which a v2 Client meets in 2025-11-25.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { tempDir } from "@async-tools/test-helpers/temp";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { Client as V1Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as V1HttpTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeOpenMeteo } from "./support/fake-open-meteo.ts";

const MAIN = join(import.meta.dirname, "..", "src", "main.ts");
const calgary = { latitude: 51.05, longitude: -114.07, year: 2023, month: 7 };

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function fixtures() {
  const dir = tempDir("weather");
  const fake = await startFakeOpenMeteo();
  cleanup.push(
    () => dir[Symbol.dispose](),
    () => fake.close(),
  );
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== "RESONATE_URL") env[k] = v;
  return {
    ...env,
    ASYNC_TOOLS_STORE: `sqlite:${join(dir.path, "jobs.db")}`,
    OPEN_METEO_ARCHIVE_URL: fake.url,
    WEATHER_RETRY_INITIAL_MS: "100",
    ASYNC_TOOLS_LOG: "info",
  };
}

type Caller = { callTool(params: { name: string; arguments: Record<string, unknown> }): Promise<unknown> };

/** Starts a month and awaits it; resolves with the job's status and day count. */
async function gather(client: Caller): Promise<{ status: string; days: number }> {
  const started = (await client.callTool({ name: "start_gathering", arguments: calgary })) as {
    structuredContent: { job_name: string };
  };
  const out = (await client.callTool({
    name: "await_result",
    arguments: { job_names: [started.structuredContent.job_name], timeout_seconds: 20 },
  })) as { structuredContent: { jobs: { status: string; result?: { days: unknown[] } }[] } };
  const job = out.structuredContent.jobs[0];
  return { status: job?.status ?? "missing", days: job?.result?.days.length ?? 0 };
}

describe("the weather server on the v2 SDK (the default, or --sdk v2)", () => {
  it("serves a 2026-07-28 v2 Client and a v1 Client over Streamable HTTP", async () => {
    const env = await fixtures();
    const child: ChildProcess = spawn(
      process.execPath,
      ["--conditions=@async-tools/source", MAIN, "--http", "--port", "0", "--sdk", "v2", "--token", "s3cret"],
      { env, stdio: ["ignore", "ignore", "pipe"] },
    );
    cleanup.push(() => child.kill("SIGKILL"));
    let err = "";
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr?.on("data", (chunk: Buffer) => {
        err += chunk.toString();
        const match = /listening on (http:\/\/\S+)/.exec(err);
        if (match?.[1]) resolve(match[1]);
      });
      child.once("exit", (code) => reject(new Error(`server exited with ${code}: ${err}`)));
    });
    const requestInit = { headers: { authorization: "Bearer s3cret" } };
    const modern = new Client({ name: "v2", version: "0" }, { versionNegotiation: { mode: "auto" } });
    await modern.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit }));
    cleanup.push(() => modern.close());
    expect(modern.getProtocolEra()).toBe("modern");
    expect(await gather(modern)).toEqual({ status: "completed", days: 31 });

    const legacy = new V1Client({ name: "v1", version: "0" });
    await legacy.connect(new V1HttpTransport(new URL(url), { requestInit }));
    cleanup.push(() => legacy.close());
    const names = async (c: { listTools(): Promise<{ tools: { name: string }[] }> }) =>
      (await c.listTools()).tools.map((t) => t.name).sort();
    expect(await names(legacy)).toEqual(await names(modern));
  });

  it("serves a 2026-07-28 v2 Client over stdio, the discovery probe process leaving the store alone", async () => {
    const env = await fixtures();
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: ["--conditions=@async-tools/source", MAIN],
      env,
      stderr: "ignore",
    });
    const client = new Client({ name: "v2", version: "0" }, { versionNegotiation: { mode: "auto" } });
    await client.connect(transport);
    cleanup.push(() => client.close());
    expect(client.getProtocolEra()).toBe("modern");
    expect(await gather(client)).toEqual({ status: "completed", days: 31 });
  });

  it("keeps the v1 SDK behind --sdk v1, which a v2 Client meets in 2025-11-25", async () => {
    const env = await fixtures();
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: ["--conditions=@async-tools/source", MAIN, "--sdk", "v1"],
      env,
      stderr: "ignore",
    });
    const client = new Client({ name: "v2", version: "0" }, { versionNegotiation: { mode: "auto" } });
    await client.connect(transport);
    cleanup.push(() => client.close());
    expect(client.getProtocolEra()).toBe("legacy");
    expect(await gather(client)).toEqual({ status: "completed", days: 31 });
  });
});

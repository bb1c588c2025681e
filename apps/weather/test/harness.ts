/**
 * Runs the real weather server as a child process (stdio or HTTP) against a store in a temp dir, with a
 * real MCP client, so tests can SIGKILL it mid-job and start it again on the same store.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterEach } from "vitest";
import {
  type FakeOpenMeteo,
  type FakeOpenMeteoOptions,
  startFakeOpenMeteo,
} from "./support/fake-open-meteo.ts";

const MAIN = join(import.meta.dirname, "..", "src", "main.ts");

/** A temp directory removed on dispose. */
export function tempDir(): { path: string; [Symbol.dispose](): void } {
  const path = mkdtempSync(join(tmpdir(), "weather-test-"));
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) };
}

/** A weather server child process with a connected client. */
export interface RunningServer {
  client: Client;
  pid: number;
  stderr: () => string;
  call(name: string, args: Record<string, unknown>): Promise<CallToolResult>;
  kill(): Promise<void>;
  close(): Promise<void>;
}

function childEnv(store: string, archiveUrl: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  delete env.RESONATE_URL;
  return {
    ...env,
    ASYNC_TOOLS_STORE: store,
    OPEN_METEO_ARCHIVE_URL: archiveUrl,
    WEATHER_RETRY_INITIAL_MS: "100",
    ASYNC_TOOLS_LOG: "info",
  };
}

/** Starts the server over stdio with a real `StdioClientTransport`. */
export async function startStdio(
  store: string,
  archiveUrl: string,
  flags: readonly string[] = [],
): Promise<RunningServer> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ["--conditions=@async-tools/source", MAIN, ...flags],
    env: childEnv(store, archiveUrl),
    stderr: "pipe",
  });
  let err = "";
  transport.stderr?.on("data", (chunk: Buffer) => {
    err += chunk.toString();
  });
  const client = new Client({ name: "weather-test", version: "0.0.0" });
  await client.connect(transport);
  const pid = transport.pid;
  if (pid === null) throw new Error("the server did not start");
  return wrap(
    client,
    pid,
    () => err,
    async () => transport.close(),
  );
}

/**
 * Starts the server with `--http` on a free port and connects a Streamable HTTP client with `token`.
 * `tokenFlags` (e.g. `["alice=T1", "bob=T2"]`) replace `--token <token>` on the command line.
 */
export async function startHttpServer(
  store: string,
  archiveUrl: string,
  token?: string,
  tokenFlags?: string[],
): Promise<RunningServer & { url: string }> {
  const args = ["--conditions=@async-tools/source", MAIN, "--http", "--port", "0"];
  for (const flag of tokenFlags ?? (token ? [token] : [])) args.push("--token", flag);
  const child: ChildProcess = spawn(process.execPath, args, {
    env: childEnv(store, archiveUrl),
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr?.on("data", (chunk: Buffer) => {
      err += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(err);
      if (match?.[1]) resolve(match[1]);
    });
    child.once("exit", (code) => reject(new Error(`server exited with ${code}: ${err}`)));
  });
  const client = new Client({ name: "weather-test", version: "0.0.0" });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      ...(token ? { requestInit: { headers: { authorization: `Bearer ${token}` } } } : {}),
    }),
  );
  const server = wrap(
    client,
    child.pid ?? 0,
    () => err,
    async () => {
      child.kill("SIGTERM");
    },
  );
  return { ...server, url };
}

function wrap(client: Client, pid: number, stderr: () => string, stop: () => Promise<void>): RunningServer {
  // process.kill(0, …) would signal this whole process group: refuse a child without a real pid.
  if (!(Number.isInteger(pid) && pid > 0)) throw new Error(`the server process has no pid (${pid})`);
  return {
    client,
    pid,
    stderr,
    call: async (name, args) => (await client.callTool({ name, arguments: args })) as CallToolResult,
    kill: async () => {
      process.kill(pid, "SIGKILL");
      await waitForExit(pid);
      await client.close().catch(() => undefined);
    },
    close: async () => {
      await client.close().catch(() => undefined);
      await stop();
      await waitForExit(pid);
    },
  };
}

async function waitForExit(pid: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The structuredContent of a successful tool result. */
export function structured<T = Record<string, unknown>>(result: CallToolResult): T {
  if (result.isError) throw new Error(`tool error: ${JSON.stringify(result.content)}`);
  return result.structuredContent as T;
}

/** The text of an error result. */
export function errorText(result: CallToolResult): string {
  if (!result.isError) throw new Error(`expected an error, got ${JSON.stringify(result.structuredContent)}`);
  return result.content.map((c) => (c.type === "text" ? c.text : "")).join("\n");
}

/**
 * Per-test rigs of a fake Open-Meteo and a store file in a temp dir, with `start()` launching the server over
 * stdio on them (again after a kill). Everything is cleaned up after each test of the calling file.
 */
export function stdioRigs(): (fakeOptions?: FakeOpenMeteoOptions) => Promise<{
  fake: FakeOpenMeteo;
  store: string;
  start: (flags?: readonly string[]) => Promise<RunningServer>;
}> {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });
  return async (fakeOptions = {}) => {
    const dir = tempDir();
    const fake = await startFakeOpenMeteo(fakeOptions);
    cleanup.push(
      () => dir[Symbol.dispose](),
      () => fake.close(),
    );
    const store = `sqlite:${join(dir.path, "jobs.db")}`;
    const start = async (flags: readonly string[] = []) => {
      const server = await startStdio(store, fake.url, flags);
      cleanup.push(() => server.close());
      return server;
    };
    return { fake, store, start };
  };
}

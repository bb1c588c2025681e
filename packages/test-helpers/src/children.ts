/**
 * Child processes for multi-process tests: a stdio MCP server with its own MCP client (its stderr kept, so a
 * test can read what it logged), and `async-tools store serve`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";

/** A running child server. */
export interface StdioChild {
  pid: number;
  client: Client;
  /** Everything the server wrote to stderr so far. */
  stderr(): string;
  call(name: string, args: Record<string, unknown>): Promise<CallToolResult>;
  /** Structured content of a tool call. */
  data<T>(name: string, args: Record<string, unknown>): Promise<T>;
  kill(): void;
  close(): Promise<void>;
}

/**
 * This process's environment for a child server, without what would choose its store behind the test's back
 * (the Resonate SDK silently switches to HTTP when `RESONATE_URL` is set).
 */
export function childEnv(overrides: Record<string, string> = {}): Record<string, string> {
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && k !== "RESONATE_URL" && k !== "ASYNC_TOOLS_STORE") base[k] = v;
  }
  return { ...base, ...overrides };
}

/** Starts `node --conditions=@async-tools/source <script> ...args` with `env` and connects a client. */
export async function startStdioChild(
  script: string,
  env: Record<string, string>,
  args: string[] = [],
): Promise<StdioChild> {
  const base = childEnv();
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ["--conditions=@async-tools/source", script, ...args],
    env: { ...base, ASYNC_TOOLS_LOG: "info", ...env },
    stderr: "pipe",
  });
  let log = "";
  transport.stderr?.on("data", (chunk: Buffer) => {
    log += chunk.toString();
  });
  const client = new Client({ name: "multi-process-test", version: "0" });
  await client.connect(transport);
  const pid = transport.pid as number;
  let killed = false;
  const call = async (name: string, callArgs: Record<string, unknown>) =>
    (await client.callTool({ name, arguments: callArgs })) as CallToolResult;
  return {
    pid,
    client,
    stderr: () => log,
    call,
    data: async <T>(name: string, callArgs: Record<string, unknown>) =>
      (await call(name, callArgs)).structuredContent as T,
    kill() {
      if (killed || pid <= 0) return;
      killed = true;
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    },
    close: () => client.close().catch(() => undefined),
  };
}

const CLI = join(import.meta.dirname, "..", "src", "cli", "main.ts");

/** Starts `async-tools store serve` on a fresh store; resolves with its URL once it listens. */
export async function startStoreServe(
  path: string,
  token: string,
  cleanup: (() => void)[] | (() => Promise<void> | void)[],
): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    ["--conditions=@async-tools/source", CLI, "store", "serve", "--store", path, "--token", token],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  cleanup.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  let err = "";
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr?.on("data", (chunk: Buffer) => {
      err += chunk.toString();
      const found = / on (http:\/\/127\.0\.0\.1:\d+)/.exec(err);
      if (found) resolve(found[1] as string);
    });
    child.once("exit", (code) => reject(new Error(`store serve exited with ${code}: ${err}`)));
  });
  return { url, child };
}

/** A server child process speaking Streamable HTTP, with a connected MCP client. */
export interface HttpChild {
  url: string;
  pid: number;
  stderr(): string;
  data<T>(name: string, args: Record<string, unknown>): Promise<T>;
  kill(): void;
  close(): Promise<void>;
}

/** Starts `node --conditions=@async-tools/source <script> --http --port 0` with `env`; connects a client. */
export async function startHttpChild(script: string, env: Record<string, string>): Promise<HttpChild> {
  const { Client } = await import("@modelcontextprotocol/sdk/client/index.js");
  const { StreamableHTTPClientTransport } = await import(
    "@modelcontextprotocol/sdk/client/streamableHttp.js"
  );
  const base = childEnv();
  const child = spawn(
    process.execPath,
    ["--conditions=@async-tools/source", script, "--http", "--port", "0"],
    {
      env: { ...base, ASYNC_TOOLS_LOG: "info", ...env },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let log = "";
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr?.on("data", (chunk: Buffer) => {
      log += chunk.toString();
      const found = /listening on (http:\/\/\S+)/.exec(log);
      if (found?.[1]) resolve(found[1]);
    });
    child.once("exit", (code) => reject(new Error(`server exited with ${code}: ${log}`)));
  });
  const client = new Client({ name: "multi-process-test", version: "0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  return {
    url,
    pid: child.pid ?? 0,
    stderr: () => log,
    data: async <T>(name: string, args: Record<string, unknown>) =>
      ((await client.callTool({ name, arguments: args })) as CallToolResult).structuredContent as T,
    kill() {
      if (!gone()) child.kill("SIGKILL");
    },
    async close() {
      await client.close().catch(() => undefined);
      if (!gone()) child.kill("SIGKILL");
    },
  };
}

/** How often each line of a side-effect file (`<job> <step>` per started step) was written; empty if absent. */
export function sideEffectCounts(file: string): Map<string, number> {
  const seen = new Map<string, number>();
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return seen;
  }
  for (const line of text.split("\n").filter(Boolean)) seen.set(line, (seen.get(line) ?? 0) + 1);
  return seen;
}

/**
 * The bench server as a real child process: over stdio with the SDK's client (to SIGKILL it and start it
 * again on the same store), as a raw stdio pipe (to write arbitrary bytes to it), or over Streamable HTTP.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { SIDE_EFFECTS_ENV } from "./bench-server.ts";
import { sleep } from "./time.ts";

const SERVER = join(import.meta.dirname, "server.ts");
/** The arguments that run the bench server with Node, from source. */
export const NODE_ARGS = ["--conditions=@async-tools/source", SERVER];

/** Where the child keeps its jobs and writes its side effects. */
export interface ChildOptions {
  store: string;
  sideEffects?: string;
  /** `ASYNC_TOOLS_LOG` of the child. Default `warn`, so a benchmark does not time its own logging. */
  logLevel?: string;
  /** More environment variables of the child, e.g. the bench server's `BENCH_*` knobs. */
  env?: Record<string, string>;
}

/** The environment of a bench server child: this process's, minus `RESONATE_URL`, plus `options`. */
export function childEnv(options: ChildOptions): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  delete env.RESONATE_URL;
  env.ASYNC_TOOLS_STORE = options.store;
  env.ASYNC_TOOLS_LOG = options.logLevel ?? "warn";
  if (options.sideEffects) env[SIDE_EFFECTS_ENV] = options.sideEffects;
  else delete env[SIDE_EFFECTS_ENV];
  return { ...env, ...options.env };
}

/** A bench server child with a connected MCP client. */
export interface StdioServer {
  client: Client;
  pid: number;
  /** What the child wrote to stderr so far. */
  stderr(): string;
  call(name: string, args: Record<string, unknown>, timeoutMs?: number): Promise<CallToolResult>;
  /** Resident set size of the child, in bytes, from `/proc`. */
  rss(): number;
  /** SIGKILL, then wait until the process is gone. */
  kill(): Promise<void>;
  /** Closes stdin (the server shuts down cleanly) and waits for the exit. */
  close(): Promise<void>;
}

/** Starts `server.ts` over stdio and connects a client; resolves once the MCP handshake is done. */
export async function startStdioServer(options: ChildOptions): Promise<StdioServer> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: NODE_ARGS,
    env: childEnv(options),
    stderr: "pipe",
  });
  let err = "";
  transport.stderr?.on("data", (chunk: Buffer) => {
    err += chunk.toString();
    if (err.length > 1_000_000) err = err.slice(-500_000);
  });
  const client = new Client({ name: "async-tools-bench", version: "0.0.0" });
  await client.connect(transport);
  const pid = transport.pid;
  if (pid === null) throw new Error(`the bench server did not start: ${err}`);
  return {
    client,
    pid,
    stderr: () => err,
    call: async (name, args, timeoutMs = 60_000) =>
      (await client.callTool({ name, arguments: args }, undefined, { timeout: timeoutMs })) as CallToolResult,
    rss: () => rssOf(pid),
    kill: async () => {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
      await waitForExit(pid, 10_000);
      await client.close().catch(() => undefined);
    },
    close: async () => {
      await client.close().catch(() => undefined);
      await waitForExit(pid, 10_000);
      if (alive(pid)) {
        process.kill(pid, "SIGKILL");
        await waitForExit(pid, 5_000);
      }
    },
  };
}

/** The bench server over a raw stdio pipe: bytes in, lines out. */
export interface RawStdioServer {
  child: ChildProcessWithoutNullStreams;
  /** Every complete stdout line so far. */
  lines: string[];
  stderr(): string;
  write(bytes: Buffer | string): Promise<void>;
  alive(): boolean;
  kill(): Promise<void>;
}

/** Starts `server.ts` with plain pipes, for writing arbitrary bytes to its stdin. */
export function startRawStdioServer(options: ChildOptions): RawStdioServer {
  const child = spawn(process.execPath, NODE_ARGS, { env: childEnv(options), stdio: "pipe" });
  const lines: string[] = [];
  let partial = "";
  let err = "";
  child.stdout.on("data", (chunk: Buffer) => {
    partial += chunk.toString("utf8");
    const parts = partial.split("\n");
    partial = parts.pop() ?? "";
    lines.push(...parts.filter((line) => line !== ""));
  });
  child.stderr.on("data", (chunk: Buffer) => {
    err += chunk.toString();
    if (err.length > 1_000_000) err = err.slice(-500_000);
  });
  child.stdin.on("error", () => undefined);
  return {
    child,
    lines,
    stderr: () => err,
    write: (bytes) =>
      new Promise((resolve, reject) => {
        child.stdin.write(bytes, (error) => (error ? reject(error) : resolve()));
      }),
    alive: () => child.exitCode === null && child.signalCode === null,
    kill: async () => {
      if (child.pid !== undefined) {
        child.kill("SIGKILL");
        await waitForExit(child.pid, 10_000);
      }
    },
  };
}

/** A bench server serving Streamable HTTP on 127.0.0.1. */
export interface HttpServer {
  url: string;
  pid: number;
  stderr(): string;
  alive(): boolean;
  kill(): Promise<void>;
}

/** Starts `server.ts --http --port 0` and resolves with its URL once it listens. */
export async function startHttpServer(options: ChildOptions): Promise<HttpServer> {
  const child = spawn(process.execPath, [...NODE_ARGS, "--http", "--port", "0"], {
    env: childEnv(options),
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the HTTP bench server did not listen: ${err}`)), 30_000);
    child.stderr.on("data", (chunk: Buffer) => {
      err += chunk.toString();
      if (err.length > 1_000_000) err = err.slice(-500_000);
      const match = /listening on (http:\/\/\S+)/.exec(err);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the HTTP bench server exited with ${code}: ${err}`));
    });
  });
  const pid = child.pid ?? 0;
  return {
    url,
    pid,
    stderr: () => err,
    alive: () => child.exitCode === null && child.signalCode === null,
    kill: async () => {
      child.kill("SIGKILL");
      await waitForExit(pid, 10_000);
    },
  };
}

/** Whether a process with this pid still exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls until `pid` is gone or `timeoutMs` passes. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (alive(pid) && Date.now() < until) await sleep(5);
}

/** Resident set size of `pid` in bytes (Linux `/proc`), or `NaN` where it cannot be read. */
export function rssOf(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    return kb === undefined ? Number.NaN : Number(kb) * 1024;
  } catch {
    return Number.NaN;
  }
}

/**
 * Real child processes for tests and the bench: a Node script of the workspace (run from source) as a stdio
 * or Streamable HTTP MCP server with a connected client, or as any process that says where it listens; the
 * environment a child gets; waiting for a process to be gone.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";

/** Node flags that run the workspace's TypeScript sources (the `@async-tools/source` export condition). */
export const NODE_ARGS = ["--conditions=@async-tools/source"];

/** How long a child may take to go after SIGKILL or a clean shutdown; a hang guard on a loaded machine. */
const EXIT_BUDGET_MS = 30_000;
/** How long `close()` lets a child shut down cleanly before it SIGKILLs it. */
const CLOSE_GRACE_MS = 10_000;
/** The most stderr kept of a chatty child (the newest half when it overflows). */
const STDERR_LIMIT = 1_000_000;

/**
 * This process's environment for a child, without what would choose its store behind the test's back (the
 * Resonate SDK silently switches to HTTP when `RESONATE_URL` is set), plus `overrides`.
 */
export function childEnv(overrides: Record<string, string> = {}): Record<string, string> {
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && k !== "RESONATE_URL" && k !== "ASYNC_TOOLS_STORE") base[k] = v;
  }
  return { ...base, ...overrides };
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

/** Polls until `pid` is gone; throws once `timeoutMs` passes with it still there. */
export async function waitForExit(pid: number, timeoutMs = EXIT_BUDGET_MS): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > until) throw new Error(`process ${pid} still runs after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** SIGKILL `pid` (if it is still there) and wait until it is gone. */
export async function killHard(pid: number): Promise<void> {
  // process.kill(0, …) would signal this whole process group: refuse a child without a real pid.
  if (!(Number.isInteger(pid) && pid > 0)) throw new Error(`the child process has no pid (${pid})`);
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    return;
  }
  await waitForExit(pid);
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

/** A child server with a connected MCP client. */
export interface McpChild {
  client: Client;
  pid: number;
  /** Everything the server wrote to stderr so far. */
  stderr(): string;
  call(name: string, args: Record<string, unknown>, timeoutMs?: number): Promise<CallToolResult>;
  /** Structured content of a tool call. */
  data<T>(name: string, args: Record<string, unknown>): Promise<T>;
  /** SIGKILL, then wait until the process is gone. */
  kill(): Promise<void>;
  /** Closes the client (a stdio server then shuts down cleanly), and waits for the exit. */
  close(): Promise<void>;
}

/** A child speaking stdio. */
export type StdioChild = McpChild;

/** Options of {@link startStdioChild} and {@link startHttpChild}. */
export interface ChildOptions {
  /** The child's environment on top of {@link childEnv}; `ASYNC_TOOLS_LOG` is `info` unless set here. */
  env?: Record<string, string>;
  /** Command-line arguments after the script. */
  args?: readonly string[];
  /** The MCP client's name. */
  clientName?: string;
}

function keepStderr(stream: { on(event: "data", listener: (chunk: Buffer) => void): unknown } | null): {
  text(): string;
} {
  let text = "";
  stream?.on("data", (chunk: Buffer) => {
    text += chunk.toString();
    if (text.length > STDERR_LIMIT) text = text.slice(-STDERR_LIMIT / 2);
  });
  return { text: () => text };
}

function mcpChild(client: Client, pid: number, stderr: () => string, stop: () => void): McpChild {
  if (!(Number.isInteger(pid) && pid > 0))
    throw new Error(`the server process has no pid (${pid}): ${stderr()}`);
  const call = async (name: string, args: Record<string, unknown>, timeoutMs?: number) =>
    (await client.callTool(
      { name, arguments: args },
      undefined,
      timeoutMs === undefined ? {} : { timeout: timeoutMs },
    )) as CallToolResult;
  return {
    client,
    pid,
    stderr,
    call,
    data: async <T>(name: string, args: Record<string, unknown>) =>
      (await call(name, args)).structuredContent as T,
    kill: async () => {
      await killHard(pid);
      await client.close().catch(() => undefined);
    },
    close: async () => {
      await client.close().catch(() => undefined);
      stop();
      await waitForExit(pid, CLOSE_GRACE_MS).catch(() => killHard(pid));
    },
  };
}

/** Starts `node --conditions=@async-tools/source <script> ...args` over stdio and connects a client. */
export async function startStdioChild(script: string, options: ChildOptions = {}): Promise<StdioChild> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [...NODE_ARGS, script, ...(options.args ?? [])],
    env: childEnv({ ASYNC_TOOLS_LOG: "info", ...options.env }),
    stderr: "pipe",
  });
  const log = keepStderr(transport.stderr);
  const client = new Client({ name: options.clientName ?? "async-tools-test", version: "0" });
  await client.connect(transport);
  return mcpChild(client, transport.pid ?? 0, log.text, () => undefined);
}

/** A process that said where it listens. */
export interface ListeningChild {
  /** The first capture group of the pattern that the child wrote to stderr. */
  url: string;
  child: ChildProcessWithoutNullStreams;
  stderr(): string;
  /** SIGKILL, then wait until the process is gone. */
  kill(): Promise<void>;
}

/**
 * Starts `node --conditions=@async-tools/source <script> ...args` and resolves once its stderr matches
 * `listening` (its first group is the URL); rejects if it exits first.
 */
export async function startListening(
  script: string,
  args: readonly string[],
  options: { env?: Record<string, string>; listening?: RegExp } = {},
): Promise<ListeningChild> {
  const child = spawn(process.execPath, [...NODE_ARGS, script, ...args], {
    env: childEnv({ ASYNC_TOOLS_LOG: "info", ...options.env }),
    stdio: "pipe",
  });
  child.stdin.end();
  child.stdout.resume();
  const pattern = options.listening ?? /listening on (http:\/\/\S+)/;
  const log = keepStderr(child.stderr);
  const url = await new Promise<string>((resolve, reject) => {
    const look = () => {
      const found = pattern.exec(log.text())?.[1];
      if (found !== undefined) {
        child.stderr.off("data", look);
        child.off("exit", exited);
        resolve(found);
      }
    };
    const exited = (code: number | null) => reject(new Error(`${script} exited with ${code}: ${log.text()}`));
    child.stderr.on("data", look);
    child.once("exit", exited);
  });
  return {
    url,
    child,
    stderr: log.text,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined)
        await killHard(child.pid);
    },
  };
}

/** A child speaking Streamable HTTP, with a connected client. */
export type HttpChild = McpChild & { url: string };

/**
 * Starts `<script> --http --port 0 ...args` and connects a Streamable HTTP client, with `token` as its
 * bearer token when given.
 */
export async function startHttpChild(
  script: string,
  options: ChildOptions & { token?: string } = {},
): Promise<HttpChild> {
  const started = await startListening(script, ["--http", "--port", "0", ...(options.args ?? [])], {
    ...(options.env === undefined ? {} : { env: options.env }),
  });
  const client = new Client({ name: options.clientName ?? "async-tools-test", version: "0" });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(started.url), {
      ...(options.token ? { requestInit: { headers: { authorization: `Bearer ${options.token}` } } } : {}),
    }),
  );
  const child = mcpChild(client, started.child.pid ?? 0, started.stderr, () => started.child.kill("SIGTERM"));
  return { ...child, url: started.url };
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

/**
 * The bench server as a real child process: over stdio with the SDK's client (to SIGKILL it and start it
 * again on the same store), as a raw stdio pipe (to write arbitrary bytes to it), or over Streamable HTTP.
 * The process plumbing is `@async-tools/test-helpers/children`; this file knows the bench server's knobs.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { join } from "node:path";
import {
  alive,
  childEnv as baseEnv,
  killHard,
  type McpChild,
  rssOf,
  NODE_ARGS as SOURCE_ARGS,
  startListening,
  startStdioChild,
} from "@async-tools/test-helpers/children";
import { SIDE_EFFECTS_ENV } from "./bench-server.ts";

const SERVER = join(import.meta.dirname, "server.ts");
/** The arguments that run the bench server with Node, from source. */
export const NODE_ARGS = [...SOURCE_ARGS, SERVER];

/** Where the child keeps its jobs and writes its side effects. */
export interface ChildOptions {
  store: string;
  sideEffects?: string;
  /** `ASYNC_TOOLS_LOG` of the child. Default `warn`, so a benchmark does not time its own logging. */
  logLevel?: string;
  /** More environment variables of the child, e.g. the bench server's `BENCH_*` knobs. */
  env?: Record<string, string>;
  /** A JavaScript file to run instead of `server.ts` from source (the bundled bench server, a plain server). */
  script?: string;
}

/** The environment of a bench server child: this process's, minus `RESONATE_URL`, plus `options`. */
export function childEnv(options: ChildOptions): Record<string, string> {
  const env = baseEnv({ ASYNC_TOOLS_STORE: options.store, ASYNC_TOOLS_LOG: options.logLevel ?? "warn" });
  if (options.sideEffects) env[SIDE_EFFECTS_ENV] = options.sideEffects;
  else delete env[SIDE_EFFECTS_ENV];
  return { ...env, ...options.env };
}

/** A bench server child with a connected MCP client. */
export interface StdioServer extends McpChild {
  /** Resident set size of the child, in bytes, from `/proc`. */
  rss(): number;
}

/** Starts `server.ts` over stdio and connects a client; resolves once the MCP handshake is done. */
export async function startStdioServer(options: ChildOptions): Promise<StdioServer> {
  const child = await startStdioChild(options.script ?? SERVER, {
    env: childEnv(options),
    clientName: "async-tools-bench",
  });
  return { ...child, rss: () => rssOf(child.pid) };
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
      if (child.pid !== undefined) await killHard(child.pid);
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
  const env = childEnv(options);
  const started = await startListening(SERVER, ["--http", "--port", "0"], { env });
  const pid = started.child.pid ?? 0;
  return {
    url: started.url,
    pid,
    stderr: started.stderr,
    alive: () => alive(pid),
    kill: started.kill,
  };
}

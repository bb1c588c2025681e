/**
 * The weather server as the demo drives it: `src/main.ts` spawned over stdio with a real MCP client, the four
 * tools as typed calls, and a SIGKILL that lets the demo crash it for real.
 */
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { WeatherRequestInput, WeatherResult } from "../open-meteo/schemas.ts";
import { DemoError } from "./demo-error.ts";

const MAIN = join(import.meta.dirname, "..", "main.ts");
const STDERR_KEPT = 4000;
const EXIT_WAIT_MS = 5000;

/** A job's status as the tools report it. */
export type JobStatus = "working" | "completed" | "failed" | "cancelled" | "not_found" | "expired";

/** One job in probe_status and await_result answers. */
export interface JobView {
  job_name: string;
  status: JobStatus;
  progress?: { fraction: number; message?: string };
  error?: string;
  result?: WeatherResult;
}

/** start_gathering's answer. */
export interface Started {
  job_name: string;
  status: JobStatus;
  created: boolean;
}

/** A running weather server with a connected client. */
export interface WeatherServer {
  readonly pid: number;
  toolNames(): Promise<string[]>;
  start(request: WeatherRequestInput): Promise<Started>;
  probe(jobNames: readonly string[]): Promise<JobView[]>;
  /** await_result: waits up to `timeoutSeconds` and returns every job, finished or not. */
  collect(jobNames: readonly string[], timeoutSeconds: number): Promise<{ jobs: JobView[]; done: boolean }>;
  /** SIGKILL, no goodbye: the server gets no chance to save anything. */
  kill(): Promise<void>;
  /** Closes stdin, as Claude Desktop does on quit, and waits for the server to exit. */
  close(): Promise<void>;
  /** The end of what the server wrote to stderr, for error messages. */
  stderr(): string;
}

/** Where the server keeps jobs and asks for weather. */
export interface WeatherServerOptions {
  /** An `ASYNC_TOOLS_STORE` value, e.g. `sqlite:/tmp/demo/jobs.db`. */
  store: string;
  archiveUrl: string;
  /** `WEATHER_RETRY_INITIAL_MS`: how soon a failed upstream call is retried. */
  retryInitialMs?: number;
}

function childEnv(options: WeatherServerOptions): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  // The Resonate SDK silently switches to its HTTP network when RESONATE_URL is set.
  delete env.RESONATE_URL;
  env.ASYNC_TOOLS_STORE = options.store;
  env.OPEN_METEO_ARCHIVE_URL = options.archiveUrl;
  if (options.retryInitialMs !== undefined) env.WEATHER_RETRY_INITIAL_MS = String(options.retryInitialMs);
  return env;
}

function resultText(result: CallToolResult): string {
  return result.content
    .map((part) => (part.type === "text" ? part.text : ""))
    .join(" ")
    .trim();
}

/**
 * Spawns `src/main.ts` with this Node (`--conditions=@async-tools/source`, so no build is needed) and
 * connects a client over stdio.
 *
 * @example
 * ```ts
 * const server = await startWeatherServer({ store: "sqlite:/tmp/jobs.db", archiveUrl: DEFAULT_ARCHIVE_URL });
 * const { job_name } = await server.start({ latitude: 51.05, longitude: -114.07, year: 2024, month: 1 });
 * await server.close();
 * ```
 */
export async function startWeatherServer(options: WeatherServerOptions): Promise<WeatherServer> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ["--conditions=@async-tools/source", MAIN],
    env: childEnv(options),
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-STDERR_KEPT);
  });
  const client = new Client({ name: "weather-demo", version: "0.0.0" });
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    client.onclose = () => {
      exited = true;
      resolve();
    };
  });
  try {
    await client.connect(transport);
  } catch (error) {
    await transport.close().catch(() => undefined);
    const reason = error instanceof Error ? error.message : String(error);
    throw new DemoError(`the weather server did not start (${reason})\n${stderr.trim()}`);
  }
  const pid = transport.pid;
  if (pid === null) throw new DemoError(`the weather server exited right after starting\n${stderr.trim()}`);

  const waitForExit = () =>
    Promise.race([exit, new Promise<void>((resolve) => setTimeout(resolve, EXIT_WAIT_MS).unref())]);

  const call = async <T>(name: string, args: Record<string, unknown>): Promise<T> => {
    const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
    if (result.isError) throw new DemoError(`${name} answered with an error: ${resultText(result)}`);
    return result.structuredContent as T;
  };

  return {
    pid,
    toolNames: async () => (await client.listTools()).tools.map((tool) => tool.name),
    start: (request) => call<Started>("start_gathering", { ...request }),
    probe: async (jobNames) =>
      (await call<{ jobs: JobView[] }>("probe_status", { job_names: jobNames })).jobs,
    collect: (jobNames, timeoutSeconds) =>
      call("await_result", { job_names: jobNames, timeout_seconds: timeoutSeconds }),
    kill: async () => {
      if (!exited) process.kill(pid, "SIGKILL");
      await waitForExit();
      await client.close().catch(() => undefined);
    },
    close: async () => {
      // The transport ends stdin, then escalates to SIGTERM and SIGKILL if the server lingers.
      await client.close().catch(() => undefined);
      await waitForExit();
    },
    stderr: () => stderr,
  };
}

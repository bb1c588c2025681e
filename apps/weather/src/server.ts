/**
 * The weather MCP server: the `weather_data` durable function (Open-Meteo archive, one month at one place)
 * exposed as start_gathering, probe_status, await_result and cancel_gathering, and as the task tool
 * weather_data (a task for clients that speak MCP Tasks, a bounded wait like await_result for the others).
 */
import {
  type AsyncTools,
  type CreateAsyncToolsOptions,
  createAsyncTools,
  defineAsyncTool,
  PermanentError,
  RetryableError,
  type RetryOptions,
} from "@async-tools/core";
import { type RegisterToolsOptions, registerTools, serverOptions } from "@async-tools/core/mcp-v1";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import packageJson from "../package.json" with { type: "json" };
import { monthView } from "./month-view.ts";
import { archiveUrlFromEnv, fetchMonth, UpstreamError } from "./open-meteo/client.ts";
import { WeatherRequestSchema, WeatherResultSchema } from "./open-meteo/schemas.ts";
import { summarize } from "./open-meteo/summary.ts";

/** How the weather tool reaches Open-Meteo and retries it. */
export interface WeatherToolOptions {
  /** The archive endpoint. Default `OPEN_METEO_ARCHIVE_URL`, else Open-Meteo's public archive. */
  archiveUrl?: string;
  /** Retry policy of the upstream call. Default: 5 attempts, backoff from 1 s. */
  retry?: RetryOptions;
  /** How long `await_result` blocks when a call names no `timeout_seconds`, in ms. Default: core's. */
  awaitDefaultMs?: number;
}

/**
 * Defines `weather_data`: fetches one month of daily weather in one durable step (retried on 429, 5xx and
 * network errors; a 4xx fails the job with Open-Meteo's reason), then summarizes it.
 */
export function weatherTool(options: WeatherToolOptions = {}) {
  const archiveUrl = options.archiveUrl ?? archiveUrlFromEnv();
  return defineAsyncTool({
    name: "weather_data",
    description:
      "Gathers historic daily weather (max/min temperature in °C, precipitation in mm) for one calendar month " +
      "at one place from the Open-Meteo archive, with a summary (min, max, mean temperature, total precipitation)",
    input: WeatherRequestSchema,
    output: WeatherResultSchema,
    idField: "job_name",
    toolNames: {
      start: "start_gathering",
      probe: "probe_status",
      await: "await_result",
      cancel: "cancel_gathering",
    },
    retry: options.retry ?? { attempts: 5, initialDelayMs: retryDelayFromEnv(), maxDelayMs: 20_000 },
    timeoutMs: 10 * 60 * 1000,
    ...(options.awaitDefaultMs === undefined ? {} : { await: { defaultMs: options.awaitDefaultMs } }),
    view: monthView,
    run: async (ctx, request) => {
      ctx.progress(0.1, "asking Open-Meteo");
      const response = await ctx.run("fetch archive", async () => {
        try {
          return await fetchMonth(request, { baseUrl: archiveUrl, signal: ctx.signal });
        } catch (error) {
          if (error instanceof UpstreamError && !error.retryable) throw new PermanentError(error.message);
          if (error instanceof UpstreamError && error.retryAfterMs !== undefined) {
            throw new RetryableError(error.message, { retryAfterMs: error.retryAfterMs, cause: error });
          }
          throw error;
        }
      });
      ctx.progress(0.9, "summarizing");
      return summarize(response, request);
    },
  });
}

/** `WEATHER_RETRY_INITIAL_MS` shortens the first retry delay (tests, demos); default 1000 ms. */
function retryDelayFromEnv(): number {
  const raw = Number(process.env.WEATHER_RETRY_INITIAL_MS);
  return Number.isFinite(raw) && raw > 0 ? raw : 1000;
}

/** The server's name and version, as announced to clients. */
export const SERVER_INFO = { name: "async-tools-weather", version: packageJson.version } as const;

/** Where the weather jobs live and how to reach Open-Meteo. */
export interface WeatherRuntimeOptions extends WeatherToolOptions {
  /** The store, as `createAsyncTools` takes it. Default `ASYNC_TOOLS_STORE`, else the user data directory. */
  store?: string;
  /**
   * The lease of a running job, in ms: what another process of a shared store waits before it takes over a job
   * whose process died without a sign (Postgres replicas take over sooner, see docs/scaling.md). Default: core's.
   */
  leaseMs?: number;
}

/**
 * Starts the weather runtime: opens the store and resumes interrupted jobs at once, before any client comes.
 *
 * @example
 * ```ts
 * const runtime = await createWeatherRuntime({ store: "memory" });
 * await buildServer(runtime).connect(createStdioTransport({ runtime }));
 * ```
 */
export function createWeatherRuntime(options: WeatherRuntimeOptions = {}): Promise<AsyncTools> {
  return createAsyncTools(weatherRuntimeOptions(options));
}

/** The options `createWeatherRuntime` opens the runtime with, for entries that open it later (v2 stdio). */
export function weatherRuntimeOptions(options: WeatherRuntimeOptions = {}): CreateAsyncToolsOptions {
  return {
    name: SERVER_INFO.name,
    tools: [weatherTool(options)],
    ...(options.store === undefined ? {} : { store: options.store }),
    ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
  };
}

/** What the server tells a model about using its tools, on both SDK generations. */
export const INSTRUCTIONS =
  "Historic weather, gathered in the background. Call start_gathering once per place and month (start " +
  "them all before waiting), then await_result with the job_names to collect the results; probe_status " +
  "shows progress without waiting.";

/** Builds a weather McpServer (not yet connected) over `runtime`: one per connection, or per HTTP request. */
export function buildServer(runtime: AsyncTools, options: RegisterToolsOptions = {}): McpServer {
  const server = new McpServer(SERVER_INFO, {
    ...serverOptions(runtime),
    instructions: INSTRUCTIONS,
  });
  registerTools(server, runtime, options);
  return server;
}

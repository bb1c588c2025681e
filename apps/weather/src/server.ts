/**
 * The weather MCP server: the `weather_data` durable function (Open-Meteo archive, one month at one place, or
 * several places and months) exposed as start_gathering, probe_status, await_result, cancel_gathering and
 * respond_gathering (for the question a big gathering asks first), and as the task tool weather_data (a task
 * for clients that speak MCP Tasks, a bounded wait like await_result for the others).
 */
import {
  type AsyncTools,
  type CreateAsyncToolsOptions,
  createAsyncTools,
  defineAsyncTool,
  type RetryOptions,
} from "@async-tools/core";
import { type RegisterToolsOptions, registerTools, serverOptions } from "@async-tools/core/mcp-v1";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import packageJson from "../package.json" with { type: "json" };
import { WEATHER_DEFAULTS } from "./defaults.ts";
import { gather } from "./gathering.ts";
import { monthView } from "./month-view.ts";
import { archiveUrlFromEnv } from "./open-meteo/client.ts";
import { WeatherRequestSchema, WeatherResultSchema } from "./open-meteo/schemas.ts";

/** How the weather tool reaches Open-Meteo and retries it. */
export interface WeatherToolOptions {
  /** The archive endpoint. Default `OPEN_METEO_ARCHIVE_URL`, else Open-Meteo's public archive. */
  archiveUrl?: string;
  /** Retry policy of the upstream call. Default: 5 attempts, backoff from 1 s. */
  retry?: RetryOptions;
  /** How long `await_result` blocks when a call names no `timeout_seconds`, in ms. Default: core's. */
  awaitDefaultMs?: number;
  /**
   * A job of more Open-Meteo requests than this asks the person to confirm first. Default
   * `WEATHER_CONFIRM_ABOVE`, else {@link WEATHER_DEFAULTS}`.confirmAbove` (10).
   */
  confirmAbove?: number;
  /** How long that question stays open, in ms; unanswered, the job ends as declined. Default 30 minutes. */
  confirmTimeoutMs?: number;
}

/**
 * Defines `weather_data`: fetches one month of daily weather in one durable step (retried on 429, 5xx and
 * network errors; a 4xx fails the job with Open-Meteo's reason), then summarizes it. With `places` and
 * `months` it makes one step per place and calendar year, asking first when that is more than `confirmAbove`.
 */
export function weatherTool(options: WeatherToolOptions = {}) {
  const archiveUrl = options.archiveUrl ?? archiveUrlFromEnv();
  const gatherOptions = {
    archiveUrl,
    confirmAbove: options.confirmAbove ?? confirmAboveFromEnv(),
    confirmTimeoutMs: options.confirmTimeoutMs ?? WEATHER_DEFAULTS.confirmTimeoutMs,
  };
  return defineAsyncTool({
    name: "weather_data",
    description:
      "Gathers historic daily weather (max/min temperature in °C, precipitation in mm) for one calendar month " +
      "at one place from the Open-Meteo archive, with a summary (min, max, mean temperature, total precipitation); " +
      "with places and months, for several places and consecutive months at once (each month at a glance)",
    input: WeatherRequestSchema,
    output: WeatherResultSchema,
    idField: "job_name",
    toolNames: {
      start: "start_gathering",
      probe: "probe_status",
      await: "await_result",
      cancel: "cancel_gathering",
      respond: "respond_gathering",
    },
    asks: true,
    retry: options.retry ?? { attempts: 5, initialDelayMs: retryDelayFromEnv(), maxDelayMs: 20_000 },
    timeoutMs: WEATHER_DEFAULTS.jobTimeoutMs,
    ...(options.awaitDefaultMs === undefined ? {} : { await: { defaultMs: options.awaitDefaultMs } }),
    view: monthView,
    run: (ctx, request) => gather(ctx, request, gatherOptions),
  });
}

/**
 * `WEATHER_CONFIRM_ABOVE`, the number of requests above which a job asks first, else the default (10).
 * Throws for a value that is not a whole number of 0 or more.
 */
export function confirmAboveFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.WEATHER_CONFIRM_ABOVE?.trim();
  if (!raw) return WEATHER_DEFAULTS.confirmAbove;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(
      `WEATHER_CONFIRM_ABOVE must be a whole number of requests (0 or more), got ${raw.slice(0, 20)}`,
    );
  }
  return value;
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
  "them all before waiting), or once with places and months for many at a glance, then await_result with " +
  "the job_names to collect the results; probe_status shows progress without waiting. A big gathering first " +
  "asks the user to confirm (status input_required): ask them, then pass the answer to respond_gathering.";

/** Builds a weather McpServer (not yet connected) over `runtime`: one per connection, or per HTTP request. */
export function buildServer(runtime: AsyncTools, options: RegisterToolsOptions = {}): McpServer {
  const server = new McpServer(SERVER_INFO, {
    ...serverOptions(runtime),
    instructions: INSTRUCTIONS,
  });
  registerTools(server, runtime, options);
  return server;
}

/**
 * The weather MCP server: the `weather_data` durable function (Open-Meteo archive, one month at one place)
 * exposed as start_gathering, probe_status, await_result and cancel_gathering, and as the task-capable
 * weather_data for clients that speak MCP Tasks.
 */
import {
  type AsyncTools,
  createAsyncTools,
  defineAsyncTool,
  PermanentError,
  type RetryOptions,
} from "@async-tools/core";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import {
  archiveUrlFromEnv,
  fetchMonth,
  summarize,
  UpstreamError,
  WeatherRequestSchema,
  WeatherResultSchema,
} from "./open-meteo.ts";

/** How the weather tool reaches Open-Meteo and retries it. */
export interface WeatherToolOptions {
  /** The archive endpoint. Default `OPEN_METEO_ARCHIVE_URL`, else Open-Meteo's public archive. */
  archiveUrl?: string;
  /** Retry policy of the upstream call. Default: 5 attempts, backoff from 1 s. */
  retry?: RetryOptions;
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
    tools: {
      start: "start_gathering",
      probe: "probe_status",
      await: "await_result",
      cancel: "cancel_gathering",
    },
    retry: options.retry ?? { attempts: 5, initialDelayMs: retryDelayFromEnv(), maxDelayMs: 20_000 },
    timeoutMs: 10 * 60 * 1000,
    run: async (ctx, request) => {
      ctx.progress(0.1, "asking Open-Meteo");
      const response = await ctx.run("fetch archive", async () => {
        try {
          return await fetchMonth(request, { baseUrl: archiveUrl, signal: ctx.signal });
        } catch (error) {
          if (error instanceof UpstreamError && !error.retryable) throw new PermanentError(error.message);
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

/** Everything {@link buildServer} needs: where jobs live and how to reach Open-Meteo. */
export interface WeatherServerOptions extends WeatherToolOptions {
  /** Async tools to register on; when absent, they are created on `store`. */
  tools?: AsyncTools;
  /** The store, as `createAsyncTools` takes it. Default `ASYNC_TOOLS_STORE`, else the user data directory. */
  store?: string;
}

/** The server's name and version, as announced to clients. */
export const SERVER_INFO = { name: "async-tools-weather", version: "0.1.0" } as const;

/**
 * Builds the weather McpServer (not yet connected to a transport).
 *
 * @example
 * ```ts
 * const { server } = await buildServer({ store: "memory" });
 * await server.connect(createStdioTransport());
 * ```
 */
export async function buildServer(
  options: WeatherServerOptions = {},
): Promise<{ server: McpServer; tools: AsyncTools }> {
  const tools =
    options.tools ??
    (await createAsyncTools({
      name: SERVER_INFO.name,
      ...(options.store === undefined ? {} : { store: options.store }),
    }));
  const server = new McpServer(SERVER_INFO, {
    ...tools.serverOptions(),
    instructions:
      "Historic weather, gathered in the background. Call start_gathering once per place and month (start " +
      "them all before waiting), then await_result with the job_names to collect the results; probe_status " +
      "shows progress without waiting.",
  });
  tools.register(server, weatherTool(options));
  return { server, tools };
}

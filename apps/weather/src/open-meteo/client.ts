/**
 * The Open-Meteo archive client: fetches daily weather at one place (one month, or any range of dates), with
 * errors classified as retryable or not, and finds the archive's URL.
 */
import { z } from "zod";
import { dayZone, monthRange } from "./calendar.ts";
import {
  echo,
  type OpenMeteoArchiveResponse,
  OpenMeteoArchiveResponseSchema,
  type WeatherRequest,
} from "./schemas.ts";

/** Open-Meteo's public historical weather endpoint, used unless `OPEN_METEO_ARCHIVE_URL` says otherwise. */
export const DEFAULT_ARCHIVE_URL = "https://archive-api.open-meteo.com/v1/archive";

/** How long {@link fetchMonth} waits for Open-Meteo's complete answer before giving up (retryably). */
export const DEFAULT_TIMEOUT_MS = 15_000;

const DAILY_VARIABLES = "temperature_2m_max,temperature_2m_min,precipitation_sum";

/**
 * Open-Meteo could not deliver the data. `retryable` says whether asking again later may help: true for
 * rate limits (429), server errors, network failures, timeouts and malformed answers; false when Open-Meteo
 * refused the request itself (other 4xx), in which case the message carries Open-Meteo's reason.
 *
 * @example
 * ```ts
 * const request = WeatherRequestSchema.parse({ latitude: 53.55, longitude: -113.49, year: 2024, month: 1 });
 * try {
 *   await fetchMonth(request, { baseUrl: archiveUrlFromEnv() });
 * } catch (error) {
 *   if (error instanceof UpstreamError && !error.retryable) console.error(error.message);
 * }
 * ```
 */
export class UpstreamError extends Error {
  override readonly name = "UpstreamError";
  /** The HTTP status Open-Meteo answered with; absent when no answer arrived. */
  readonly status?: number;
  /** Whether the same request may succeed later. */
  readonly retryable: boolean;
  /** How long Open-Meteo asked us to wait (`Retry-After` of a 429 or 503), in ms. */
  readonly retryAfterMs?: number;

  constructor(
    message: string,
    options: { retryable: boolean; status?: number; retryAfterMs?: number; cause?: unknown },
  ) {
    super(message, "cause" in options ? { cause: options.cause } : undefined);
    this.retryable = options.retryable;
    if (options.status !== undefined) this.status = options.status;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}

/** Where and how {@link fetchMonth} and {@link fetchArchive} ask Open-Meteo. */
export interface FetchMonthOptions {
  /** The archive endpoint, e.g. {@link DEFAULT_ARCHIVE_URL}; its own query parameters (`apikey`) are kept. */
  baseUrl: string;
  /** Cancels the request; the rejection is then the signal's reason, not an {@link UpstreamError}. */
  signal?: AbortSignal;
  /** Stands in for the platform `fetch`. */
  fetch?: typeof globalThis.fetch;
  /** Gives up after this many milliseconds; default {@link DEFAULT_TIMEOUT_MS}. */
  timeoutMs?: number;
}

/**
 * Fetches the daily maximum/minimum temperature and precipitation of `request`'s month from Open-Meteo's
 * archive, in `request.timezone`. Rejects with an {@link UpstreamError} when no valid answer arrives.
 *
 * @example
 * ```ts
 * const request = WeatherRequestSchema.parse({ latitude: 53.55, longitude: -113.49, year: 2024, month: 1 });
 * const response = await fetchMonth(request, { baseUrl: archiveUrlFromEnv() });
 * const result = summarize(response, request);
 * ```
 */
export async function fetchMonth(
  request: WeatherRequest,
  options: FetchMonthOptions,
): Promise<OpenMeteoArchiveResponse> {
  const range = monthRange(request.year, request.month, {
    timezone: dayZone(request.timezone, request.longitude),
  });
  const { latitude, longitude, timezone } = request;
  return fetchArchive({ latitude, longitude, timezone, ...range }, options);
}

/** What {@link fetchArchive} asks Open-Meteo for: a place, a time zone and an inclusive range of dates. */
export interface ArchiveQuery {
  latitude: number;
  longitude: number;
  /** `"auto"` or an IANA name. */
  timezone: string;
  /** `YYYY-MM-DD`. */
  start_date: string;
  /** `YYYY-MM-DD`, inclusive. */
  end_date: string;
}

/**
 * Fetches the daily maximum/minimum temperature and precipitation of `query`'s dates at its place from
 * Open-Meteo's archive. Rejects with an {@link UpstreamError} when no valid answer arrives.
 *
 * @example
 * ```ts
 * const query = { latitude: 53.55, longitude: -113.49, timezone: "auto", start_date: "2023-01-01", end_date: "2023-12-31" };
 * const year = await fetchArchive(query, { baseUrl: archiveUrlFromEnv() });
 * ```
 */
export async function fetchArchive(
  query: ArchiveQuery,
  options: FetchMonthOptions,
): Promise<OpenMeteoArchiveResponse> {
  const url = new URL(options.baseUrl);
  url.searchParams.set("latitude", String(query.latitude));
  url.searchParams.set("longitude", String(query.longitude));
  url.searchParams.set("start_date", query.start_date);
  url.searchParams.set("end_date", query.end_date);
  url.searchParams.set("daily", DAILY_VARIABLES);
  url.searchParams.set("timezone", query.timezone);

  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const fetchFn = options.fetch ?? globalThis.fetch;

  let status: number;
  let text: string;
  let retryAfter: string | null = null;
  try {
    const response = await fetchFn(url, { signal, headers: { accept: "application/json" } });
    status = response.status;
    retryAfter = response.headers.get("retry-after");
    text = await response.text();
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason;
    if (timeout.aborted) {
      throw new UpstreamError(`Open-Meteo did not answer within ${timeoutMs / 1000} s`, {
        retryable: true,
        cause: error,
      });
    }
    throw new UpstreamError(`Could not reach Open-Meteo at ${url.origin}: ${networkReason(error)}`, {
      retryable: true,
      cause: error,
    });
  }

  if (status < 200 || status > 299) throw statusError(status, text, retryAfterMsOf(retryAfter));

  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new UpstreamError(`Open-Meteo answered with invalid JSON: ${excerpt(text)}`, {
      retryable: true,
      status,
      cause: error,
    });
  }
  const parsed = OpenMeteoArchiveResponseSchema.safeParse(body);
  if (!parsed.success) {
    throw new UpstreamError(
      `Open-Meteo's answer is not shaped as expected: ${z.prettifyError(parsed.error)}`,
      {
        retryable: true,
        status,
        cause: parsed.error,
      },
    );
  }
  return parsed.data;
}

/** `Retry-After` as delay-seconds or an HTTP date, in ms from now; `undefined` when absent or unreadable. */
export function retryAfterMsOf(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function statusError(status: number, text: string, retryAfterMs?: number): UpstreamError {
  const reason = errorReason(text);
  const wait = retryAfterMs === undefined ? {} : { retryAfterMs };
  if (status === 429) {
    return new UpstreamError(`Open-Meteo is rate limiting requests (429): ${reason}`, {
      retryable: true,
      status,
      ...wait,
    });
  }
  // 408 is the server's own timeout, as retryable as ours.
  if (status >= 400 && status < 500 && status !== 408) {
    return new UpstreamError(`Open-Meteo refused the request (${status}): ${reason}`, {
      retryable: false,
      status,
    });
  }
  return new UpstreamError(`Open-Meteo failed (${status}): ${reason}`, {
    retryable: true,
    status,
    ...(status === 503 ? wait : {}),
  });
}

/** Open-Meteo's `{"error": true, "reason": "..."}`, or the start of whatever else it sent. */
function errorReason(text: string): string {
  try {
    const body: unknown = JSON.parse(text);
    if (typeof body === "object" && body !== null && "reason" in body && typeof body.reason === "string") {
      return body.reason;
    }
  } catch {
    // Not JSON (a proxy's HTML page, say): fall through to the raw text.
  }
  return excerpt(text);
}

function excerpt(text: string): string {
  const trimmed = text.trim().replace(/\s+/g, " ");
  if (trimmed === "") return "(empty body)";
  return trimmed.length > 200 ? `${trimmed.slice(0, 200)}…` : trimmed;
}

/** undici reports "fetch failed" and hides the useful part (ECONNREFUSED, a DNS failure) in `cause`. */
function networkReason(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause;
  if (cause instanceof Error && cause.message) return cause.message;
  return error.message;
}

/**
 * The archive endpoint to use: `OPEN_METEO_ARCHIVE_URL` when set (a local fake, a customer endpoint with
 * an `apikey`), else {@link DEFAULT_ARCHIVE_URL}. Throws when the variable is set but not an http(s) URL.
 *
 * @example
 * ```ts
 * const baseUrl = archiveUrlFromEnv(); // "https://archive-api.open-meteo.com/v1/archive" by default
 * ```
 */
export function archiveUrlFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const value = env.OPEN_METEO_ARCHIVE_URL?.trim();
  if (!value) return DEFAULT_ARCHIVE_URL;
  if (!URL.canParse(value) || !/^https?:$/.test(new URL(value).protocol)) {
    throw new Error(
      `OPEN_METEO_ARCHIVE_URL must be an http(s) URL such as ${DEFAULT_ARCHIVE_URL}, got ${echo(value)}`,
    );
  }
  return value;
}

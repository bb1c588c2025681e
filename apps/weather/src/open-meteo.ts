/**
 * The Open-Meteo historical archive behind the weather tool: the tool's input and output schemas, fetching
 * one month of daily weather (with errors classified as retryable or not) and summarizing it.
 */
import { z } from "zod";

/** Open-Meteo's public historical weather endpoint, used unless `OPEN_METEO_ARCHIVE_URL` says otherwise. */
export const DEFAULT_ARCHIVE_URL = "https://archive-api.open-meteo.com/v1/archive";

/** The time zone days are counted in when a request names none. */
export const DEFAULT_TIMEZONE = "America/Edmonton";

/** How long {@link fetchMonth} waits for Open-Meteo's complete answer before giving up (retryably). */
export const DEFAULT_TIMEOUT_MS = 15_000;

const FIRST_ARCHIVE_YEAR = 1940;
const DAILY_VARIABLES = "temperature_2m_max,temperature_2m_min,precipitation_sum";
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Whether `timeZone` is an IANA time zone name this runtime knows, such as `"Europe/Berlin"`.
 *
 * @example
 * ```ts
 * isTimeZone("America/Edmonton"); // true
 * isTimeZone("Mars/Olympus_Mons"); // false
 * ```
 */
export function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat(undefined, { timeZone });
    return true;
  } catch {
    return false;
  }
}

interface CalendarDate {
  year: number;
  month: number;
  day: number;
}

function todayIn(timeZone: string, now: Date): CalendarDate {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    year: "numeric",
    month: "numeric",
    day: "numeric",
  }).formatToParts(now);
  const part = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((p) => p.type === type)?.value);
  return { year: part("year"), month: part("month"), day: part("day") };
}

function dateKey({ year, month, day }: CalendarDate): number {
  return year * 10_000 + month * 100 + day;
}

function formatDate({ year, month, day }: CalendarDate): string {
  return `${String(year).padStart(4, "0")}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function dayBefore(date: CalendarDate): CalendarDate {
  if (date.day > 1) return { ...date, day: date.day - 1 };
  if (date.month > 1)
    return { year: date.year, month: date.month - 1, day: daysInMonth(date.year, date.month - 1) };
  return { year: date.year - 1, month: 12, day: 31 };
}

const latitudeMessage = "latitude must be between -90 and 90 (decimal degrees, south is negative)";
const longitudeMessage = "longitude must be between -180 and 180 (decimal degrees, west is negative)";
const monthMessage = "month must be 1-12 (January = 1)";

/**
 * The weather tool's arguments: a place and a calendar month. Besides field ranges it refuses years before
 * 1940 (Open-Meteo's archive starts in 1940) and months that have not yet had a complete day in `timezone`:
 * the current month is accepted from its second day on and then covers the days up to yesterday.
 *
 * @example
 * ```ts
 * const request = WeatherRequestSchema.parse({ latitude: 53.55, longitude: -113.49, year: 2024, month: 1 });
 * request.timezone; // "America/Edmonton"
 * ```
 */
export const WeatherRequestSchema = z
  .object({
    latitude: z
      .number({ error: "latitude must be a number in decimal degrees, e.g. 53.55" })
      .min(-90, latitudeMessage)
      .max(90, latitudeMessage)
      .describe("Latitude in decimal degrees, -90 (South Pole) to 90 (North Pole); e.g. 53.55 for Edmonton"),
    longitude: z
      .number({ error: "longitude must be a number in decimal degrees, e.g. -113.49" })
      .min(-180, longitudeMessage)
      .max(180, longitudeMessage)
      .describe(
        "Longitude in decimal degrees, -180 to 180, west of Greenwich negative; e.g. -113.49 for Edmonton",
      ),
    year: z
      .number({ error: "year must be a number such as 2024" })
      .int("year must be a whole number such as 2024")
      .min(FIRST_ARCHIVE_YEAR, {
        error: (issue) =>
          `year must be 1940 or later, got ${issue.input}: Open-Meteo's archive starts in 1940`,
      })
      .describe("Calendar year, 1940 or later (Open-Meteo's archive starts in 1940)"),
    month: z
      .number({ error: monthMessage })
      .int(monthMessage)
      .min(1, monthMessage)
      .max(12, monthMessage)
      .describe(
        "Month of the year, 1-12 (January = 1). The current month covers the days up to yesterday; " +
          "future months are refused.",
      ),
    timezone: z
      .string({ error: 'timezone must be an IANA time zone name such as "America/Edmonton"' })
      .refine(isTimeZone, {
        error: (issue) =>
          `timezone ${JSON.stringify(issue.input)} is not an IANA time zone name; ` +
          'use one such as "America/Edmonton", "Europe/Berlin" or "UTC"',
      })
      .default(DEFAULT_TIMEZONE)
      .describe(
        `IANA time zone in which days start and end, e.g. "Europe/Berlin"; defaults to "${DEFAULT_TIMEZONE}"`,
      ),
  })
  .superRefine((request, ctx) => {
    // Zod runs this even when a field failed, so only judge the date once its parts are sound.
    const { year, month, timezone } = request;
    if (!Number.isInteger(year) || !Number.isInteger(month) || month < 1 || month > 12) return;
    if (!isTimeZone(timezone)) return;
    const today = todayIn(timezone, new Date());
    if (dateKey({ year, month, day: 1 }) < dateKey(today)) return;
    const asked = formatDate({ year, month, day: 1 }).slice(0, 7);
    ctx.addIssue({
      code: "custom",
      path: ["month"],
      message:
        `${asked} has no complete day yet (today is ${formatDate(today)} in ${timezone}): ` +
        "ask for an earlier month; the current month can be asked for from its second day on",
    });
  })
  .describe("A place and a calendar month of historic daily weather");

/** The weather tool's arguments as given, before defaults are applied. */
export type WeatherRequestInput = z.input<typeof WeatherRequestSchema>;

/** The weather tool's arguments once validated, with the default time zone filled in. */
export type WeatherRequest = z.output<typeof WeatherRequestSchema>;

/** An inclusive range of dates in Open-Meteo's `start_date`/`end_date` form (`YYYY-MM-DD`). */
export interface DateRange {
  start_date: string;
  end_date: string;
}

/**
 * The dates of one calendar month: its first to its last day, or to yesterday for the current month.
 * "Today" is taken in `timezone` (default {@link DEFAULT_TIMEZONE}) at `now` (default: the clock).
 * Throws a `RangeError` for a month without a complete day yet; {@link WeatherRequestSchema} refuses those.
 *
 * @example
 * ```ts
 * monthRange(2024, 2); // { start_date: "2024-02-01", end_date: "2024-02-29" }
 * ```
 */
export function monthRange(
  year: number,
  month: number,
  options: { timezone?: string; now?: Date } = {},
): DateRange {
  const timezone = options.timezone ?? DEFAULT_TIMEZONE;
  const today = todayIn(timezone, options.now ?? new Date());
  const first = { year, month, day: 1 };
  const last = { year, month, day: daysInMonth(year, month) };
  if (dateKey(first) >= dateKey(today)) {
    throw new RangeError(
      `${formatDate(first).slice(0, 7)} has no complete day yet (today is ${formatDate(today)} in ${timezone})`,
    );
  }
  const end = dateKey(last) < dateKey(today) ? last : dayBefore(today);
  return { start_date: formatDate(first), end_date: formatDate(end) };
}

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

const nullableNumbers = z.array(z.number().nullable());

/**
 * The part of Open-Meteo's archive answer that {@link fetchMonth} asks for: daily maximum and minimum
 * temperature (°C) and precipitation (mm), one value or `null` per date in `daily.time`.
 *
 * @example
 * ```ts
 * const query = "latitude=53.55&longitude=-113.49&start_date=2024-01-01&end_date=2024-01-31";
 * const daily = "daily=temperature_2m_max,temperature_2m_min,precipitation_sum";
 * const response = await fetch(`${DEFAULT_ARCHIVE_URL}?${query}&${daily}`);
 * const parsed = OpenMeteoArchiveResponseSchema.safeParse(await response.json());
 * ```
 */
export const OpenMeteoArchiveResponseSchema = z
  .object({
    latitude: z.number(),
    longitude: z.number(),
    timezone: z.string(),
    daily_units: z.object({
      temperature_2m_max: z.literal("°C"),
      temperature_2m_min: z.literal("°C"),
      precipitation_sum: z.literal("mm"),
    }),
    daily: z.object({
      time: z.array(z.string().regex(ISO_DATE, "dates must look like YYYY-MM-DD")),
      temperature_2m_max: nullableNumbers,
      temperature_2m_min: nullableNumbers,
      precipitation_sum: nullableNumbers,
    }),
  })
  .refine(
    ({ daily }) =>
      [daily.temperature_2m_max, daily.temperature_2m_min, daily.precipitation_sum].every(
        (values) => values?.length === daily.time?.length,
      ),
    { message: "every daily series must have one value per date in daily.time", path: ["daily"] },
  );

/** Open-Meteo's archive answer, as validated by {@link OpenMeteoArchiveResponseSchema}. */
export type OpenMeteoArchiveResponse = z.output<typeof OpenMeteoArchiveResponseSchema>;

/** Where and how {@link fetchMonth} asks Open-Meteo. */
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
  const range = monthRange(request.year, request.month, { timezone: request.timezone });
  const url = new URL(options.baseUrl);
  url.searchParams.set("latitude", String(request.latitude));
  url.searchParams.set("longitude", String(request.longitude));
  url.searchParams.set("start_date", range.start_date);
  url.searchParams.set("end_date", range.end_date);
  url.searchParams.set("daily", DAILY_VARIABLES);
  url.searchParams.set("timezone", request.timezone);

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
      `OPEN_METEO_ARCHIVE_URL must be an http(s) URL such as ${DEFAULT_ARCHIVE_URL}, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

const nullableCelsius = (what: string) =>
  z
    .number()
    .nullable()
    .describe(`${what}, °C; null when Open-Meteo has no value (recent days may not be archived yet)`);

const DaySchema = z.object({
  date: z.string().describe("Local date, YYYY-MM-DD"),
  temperature_max_c: nullableCelsius("Highest air temperature 2 m above ground"),
  temperature_min_c: nullableCelsius("Lowest air temperature 2 m above ground"),
  precipitation_mm: z
    .number()
    .nullable()
    .describe("Rain, showers and snowfall (as water), mm; null when Open-Meteo has no value"),
});

/**
 * The weather tool's result (its MCP `outputSchema`): every day of the month and a summary. Values Open-Meteo
 * does not have are `null`; summary figures use the days that have them and are `null` when none do.
 *
 * @example
 * ```ts
 * const request = WeatherRequestSchema.parse({ latitude: 53.55, longitude: -113.49, year: 2024, month: 1 });
 * const response = await fetchMonth(request, { baseUrl: DEFAULT_ARCHIVE_URL });
 * const result = WeatherResultSchema.parse(summarize(response, request));
 * ```
 */
export const WeatherResultSchema = z
  .object({
    location: z
      .object({
        latitude: z.number().describe("Latitude of the grid cell Open-Meteo used, near the one asked for"),
        longitude: z.number().describe("Longitude of the grid cell Open-Meteo used, near the one asked for"),
        timezone: z.string().describe("IANA time zone the days are counted in"),
      })
      .describe("Where the data comes from"),
    year: z.number().int().describe("Calendar year"),
    month: z.number().int().min(1).max(12).describe("Month of the year, 1-12 (January = 1)"),
    days: z.array(DaySchema).describe("One entry per day, in date order"),
    summary: z
      .object({
        days: z
          .number()
          .int()
          .describe("Days covered: the whole month, or up to yesterday for the current month"),
        temperature_min_c: z.number().nullable().describe("Lowest daily minimum of the month, °C"),
        temperature_max_c: z.number().nullable().describe("Highest daily maximum of the month, °C"),
        temperature_mean_c: z
          .number()
          .nullable()
          .describe("Mean over the days of (max + min) / 2, °C, rounded to 0.1"),
        precipitation_total_mm: z
          .number()
          .nullable()
          .describe("Total precipitation of the month, mm, rounded to 0.1"),
        wettest_day: z
          .object({ date: z.string(), precipitation_mm: z.number() })
          .optional()
          .describe("The day with the most precipitation (the first, on a tie); absent when none fell"),
        missing_days: z.number().int().describe("Days lacking at least one value (null above)"),
      })
      .describe("The month at a glance"),
  })
  .describe("Daily historic weather for one month at one place, from Open-Meteo");

/** The weather tool's result, as described by {@link WeatherResultSchema}. */
export type WeatherResult = z.output<typeof WeatherResultSchema>;

/** Rounds to 0.1, turning the -0 that rounding small negatives yields into 0. */
function round1(value: number): number {
  return Math.round(value * 10) / 10 + 0;
}

/**
 * Turns Open-Meteo's answer for `request` into the weather tool's result: per-day values plus monthly
 * extremes, mean, total precipitation, the wettest day and how many days lack data.
 *
 * @example
 * ```ts
 * const request = WeatherRequestSchema.parse({ latitude: 53.55, longitude: -113.49, year: 2024, month: 1 });
 * const result = summarize(await fetchMonth(request, { baseUrl: archiveUrlFromEnv() }), request);
 * result.summary.temperature_mean_c; // e.g. -9.8
 * ```
 */
export function summarize(response: OpenMeteoArchiveResponse, request: WeatherRequest): WeatherResult {
  const { daily } = response;
  const days = daily.time.map((date, i) => ({
    date,
    temperature_max_c: daily.temperature_2m_max[i] ?? null,
    temperature_min_c: daily.temperature_2m_min[i] ?? null,
    precipitation_mm: daily.precipitation_sum[i] ?? null,
  }));

  const maxima = days.flatMap((day) => (day.temperature_max_c === null ? [] : [day.temperature_max_c]));
  const minima = days.flatMap((day) => (day.temperature_min_c === null ? [] : [day.temperature_min_c]));
  const middles = days.flatMap((day) =>
    day.temperature_max_c === null || day.temperature_min_c === null
      ? []
      : [(day.temperature_max_c + day.temperature_min_c) / 2],
  );
  const wet = days.flatMap((day) =>
    day.precipitation_mm === null ? [] : [{ date: day.date, precipitation_mm: day.precipitation_mm }],
  );

  let wettest: { date: string; precipitation_mm: number } | undefined;
  for (const day of wet) {
    if (day.precipitation_mm > (wettest?.precipitation_mm ?? 0)) wettest = day;
  }

  const summary: WeatherResult["summary"] = {
    days: days.length,
    temperature_min_c: minima.length > 0 ? Math.min(...minima) : null,
    temperature_max_c: maxima.length > 0 ? Math.max(...maxima) : null,
    temperature_mean_c:
      middles.length > 0 ? round1(middles.reduce((a, b) => a + b, 0) / middles.length) : null,
    precipitation_total_mm:
      wet.length > 0 ? round1(wet.reduce((a, day) => a + day.precipitation_mm, 0)) : null,
    ...(wettest ? { wettest_day: wettest } : {}),
    missing_days: days.filter(
      (day) =>
        day.temperature_max_c === null || day.temperature_min_c === null || day.precipitation_mm === null,
    ).length,
  };

  return {
    location: { latitude: response.latitude, longitude: response.longitude, timezone: response.timezone },
    year: request.year,
    month: request.month,
    days,
    summary,
  };
}

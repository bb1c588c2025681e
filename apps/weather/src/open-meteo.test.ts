/**
 * Tests for the Open-Meteo client: request validation with messages a model can act on, month ranges,
 * real fetches against the fake archive on 127.0.0.1 with their error classification, and summaries.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { startFakeOpenMeteo } from "./fake-open-meteo.ts";
import {
  archiveUrlFromEnv,
  DEFAULT_ARCHIVE_URL,
  fetchMonth,
  monthRange,
  type OpenMeteoArchiveResponse,
  summarize,
  UpstreamError,
  type WeatherRequest,
  WeatherRequestSchema,
  WeatherResultSchema,
} from "./open-meteo.ts";

const edmonton = { latitude: 53.55, longitude: -113.49 };

function request(overrides: Partial<WeatherRequest> = {}): WeatherRequest {
  return WeatherRequestSchema.parse({ ...edmonton, year: 2024, month: 1, ...overrides });
}

function messages(input: unknown): string[] {
  const result = WeatherRequestSchema.safeParse(input);
  return result.success ? [] : result.error.issues.map((issue) => issue.message);
}

async function upstreamError(promise: Promise<unknown>): Promise<UpstreamError> {
  const error = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(error).toBeInstanceOf(UpstreamError);
  return error as UpstreamError;
}

afterEach(() => {
  vi.useRealTimers();
});

describe("WeatherRequestSchema", () => {
  it("fills in America/Edmonton when no timezone is given", () => {
    expect(request().timezone).toBe("America/Edmonton");
  });

  it("explains that months run from 1 to 12", () => {
    expect(messages({ ...edmonton, year: 2024, month: 13 })).toEqual(["month must be 1-12 (January = 1)"]);
    expect(messages({ ...edmonton, year: 2024, month: 0 })).toEqual(["month must be 1-12 (January = 1)"]);
  });

  it("explains the latitude range", () => {
    expect(messages({ latitude: 951, longitude: 0, year: 2024, month: 1 })).toEqual([
      "latitude must be between -90 and 90 (decimal degrees, south is negative)",
    ]);
  });

  it("refuses months in the future", () => {
    const year = new Date().getUTCFullYear() + 1;
    const [message] = messages({ ...edmonton, year, month: 6 });
    expect(message).toMatch(
      new RegExp(`^${year}-06 has no complete day yet \\(today is \\d{4}-\\d{2}-\\d{2} in`),
    );
  });

  it("refuses years before 1940 because the archive starts then", () => {
    expect(messages({ ...edmonton, year: 1939, month: 12 })).toEqual([
      "year must be 1940 or later, got 1939: Open-Meteo's archive starts in 1940",
    ]);
  });

  it("names the unknown timezone and shows valid ones", () => {
    expect(messages({ ...edmonton, year: 2024, month: 1, timezone: "Mars/Olympus_Mons" })).toEqual([
      'timezone "Mars/Olympus_Mons" is not an IANA time zone name; use one such as "America/Edmonton", ' +
        '"Europe/Berlin" or "UTC"',
    ]);
  });

  it("reports every wrong field at once", () => {
    const result = WeatherRequestSchema.safeParse({ latitude: 951, longitude: 200, year: 1939, month: 13 });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => issue.path.join("."))).toEqual([
      "latitude",
      "longitude",
      "year",
      "month",
    ]);
  });

  it("accepts the current month from its second day, counted in the request's timezone", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    // 06:00 UTC on 2 March is still 1 March in Edmonton, but already 2 March in Berlin.
    vi.setSystemTime(new Date("2024-03-02T06:00:00Z"));
    expect(messages({ ...edmonton, year: 2024, month: 3 })).toEqual([
      "2024-03 has no complete day yet (today is 2024-03-01 in America/Edmonton): ask for an earlier month; " +
        "the current month can be asked for from its second day on",
    ]);
    expect(messages({ ...edmonton, year: 2024, month: 3, timezone: "Europe/Berlin" })).toEqual([]);
  });

  it("describes every field in its JSON schema", () => {
    const schema = z.toJSONSchema(WeatherRequestSchema, { io: "input" }) as {
      properties: Record<string, { description?: string }>;
      required: string[];
    };
    for (const field of ["latitude", "longitude", "year", "month", "timezone"]) {
      expect(schema.properties[field]?.description).toBeTruthy();
    }
    expect(schema.required).toEqual(["latitude", "longitude", "year", "month"]);
  });
});

describe("monthRange", () => {
  const now = new Date("2024-03-15T18:00:00Z");

  it("covers a whole past month, with 29 days in February of a leap year", () => {
    expect(monthRange(2024, 1, { now })).toEqual({ start_date: "2024-01-01", end_date: "2024-01-31" });
    expect(monthRange(2024, 2, { now })).toEqual({ start_date: "2024-02-01", end_date: "2024-02-29" });
    expect(monthRange(2023, 2, { now })).toEqual({ start_date: "2023-02-01", end_date: "2023-02-28" });
    expect(monthRange(2000, 2, { now })).toEqual({ start_date: "2000-02-01", end_date: "2000-02-29" });
  });

  it("ends the current month yesterday", () => {
    expect(monthRange(2024, 3, { now })).toEqual({ start_date: "2024-03-01", end_date: "2024-03-14" });
  });

  it("counts yesterday in the given timezone", () => {
    const early = new Date("2024-03-03T03:00:00Z");
    expect(monthRange(2024, 3, { now: early, timezone: "UTC" }).end_date).toBe("2024-03-02");
    expect(monthRange(2024, 3, { now: early, timezone: "America/Edmonton" }).end_date).toBe("2024-03-01");
  });

  it("throws for a month without a complete day", () => {
    expect(() => monthRange(2024, 3, { now: new Date("2024-03-01T12:00:00Z") })).toThrow(RangeError);
    expect(() => monthRange(2024, 4, { now })).toThrow("2024-04 has no complete day yet");
  });
});

describe("fetchMonth", () => {
  it("fetches and validates all 31 days of January in the request's timezone", async () => {
    await using fake = await startFakeOpenMeteo();
    const response = await fetchMonth(request(), { baseUrl: fake.url });

    expect(response.timezone).toBe("America/Edmonton");
    expect(response.daily.time).toHaveLength(31);
    expect(response.daily.time[0]).toBe("2024-01-01");
    expect(response.daily.time.at(-1)).toBe("2024-01-31");
    expect(
      fake.requestsFor({
        latitude: "53.55",
        longitude: "-113.49",
        start_date: "2024-01-01",
        end_date: "2024-01-31",
        daily: "temperature_2m_max,temperature_2m_min,precipitation_sum",
        timezone: "America/Edmonton",
      }),
    ).toBe(1);
  });

  it("fetches 29 days for February 2024", async () => {
    await using fake = await startFakeOpenMeteo();
    const response = await fetchMonth(request({ month: 2 }), { baseUrl: fake.url });
    expect(response.daily.time).toHaveLength(29);
    expect(response.daily.time.at(-1)).toBe("2024-02-29");
  });

  it("passes the timezone through to Open-Meteo and back", async () => {
    await using fake = await startFakeOpenMeteo();
    const response = await fetchMonth(request({ timezone: "Asia/Tokyo" }), { baseUrl: fake.url });
    expect(response.timezone).toBe("Asia/Tokyo");
    expect(fake.requestsFor({ timezone: "Asia/Tokyo" })).toBe(1);
  });

  it("keeps query parameters of the base URL, such as an API key", async () => {
    await using fake = await startFakeOpenMeteo();
    await fetchMonth(request(), { baseUrl: `${fake.url}?apikey=secret` });
    expect(fake.requestsFor({ apikey: "secret", latitude: "53.55" })).toBe(1);
  });

  it("does not retry a request Open-Meteo refuses, and passes on its reason", async () => {
    await using fake = await startFakeOpenMeteo({
      script: [{ status: 400, reason: "Cannot do that today" }],
    });
    const error = await upstreamError(fetchMonth(request(), { baseUrl: fake.url }));
    expect(error.retryable).toBe(false);
    expect(error.status).toBe(400);
    expect(error.message).toBe("Open-Meteo refused the request (400): Cannot do that today");
  });

  it("passes on the reason of the archive's own validation", async () => {
    await using fake = await startFakeOpenMeteo();
    // Skips the schema on purpose, to see the archive's answer.
    const invalid = { ...request(), latitude: 951 };
    const error = await upstreamError(fetchMonth(invalid, { baseUrl: fake.url }));
    expect(error.retryable).toBe(false);
    expect(error.message).toBe(
      "Open-Meteo refused the request (400): Latitude must be in range of -90 to 90°. Given: 951.0.",
    );
  });

  it.each([503, 500, 429])("treats HTTP %i as retryable", async (status) => {
    await using fake = await startFakeOpenMeteo({ script: [{ status }] });
    const error = await upstreamError(fetchMonth(request(), { baseUrl: fake.url }));
    expect(error.retryable).toBe(true);
    expect(error.status).toBe(status);
  });

  it("succeeds once scripted failures are used up", async () => {
    await using fake = await startFakeOpenMeteo({ script: [{ status: 503 }, { status: 503 }] });
    await upstreamError(fetchMonth(request(), { baseUrl: fake.url }));
    await upstreamError(fetchMonth(request(), { baseUrl: fake.url }));
    const response = await fetchMonth(request(), { baseUrl: fake.url });
    expect(response.daily.time).toHaveLength(31);
    expect(fake.requests()).toBe(3);
  });

  it("treats a refused connection as retryable", async () => {
    const fake = await startFakeOpenMeteo();
    await fake.close();
    const error = await upstreamError(fetchMonth(request(), { baseUrl: fake.url }));
    expect(error.retryable).toBe(true);
    expect(error.status).toBeUndefined();
    expect(error.message).toMatch(/^Could not reach Open-Meteo at http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
  });

  it("treats a connection dropped mid-request as retryable", async () => {
    await using fake = await startFakeOpenMeteo({ latencyMs: 10_000 });
    const pending = upstreamError(fetchMonth(request(), { baseUrl: fake.url }));
    await vi.waitFor(() => expect(fake.requests()).toBe(1));
    await fake.close();
    expect((await pending).retryable).toBe(true);
  });

  it("treats garbage JSON as retryable", async () => {
    await using fake = await startFakeOpenMeteo({ script: [{ body: '{"latitude": 53.5,' }] });
    const error = await upstreamError(fetchMonth(request(), { baseUrl: fake.url }));
    expect(error.retryable).toBe(true);
    expect(error.message).toBe('Open-Meteo answered with invalid JSON: {"latitude": 53.5,');
  });

  it("treats an answer of the wrong shape as retryable", async () => {
    await using fake = await startFakeOpenMeteo({
      script: [{ body: { latitude: 53.5, longitude: -113.5 } }],
    });
    const error = await upstreamError(fetchMonth(request(), { baseUrl: fake.url }));
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/^Open-Meteo's answer is not shaped as expected: .*daily/s);
  });

  it("treats daily series of different lengths as retryable", async () => {
    await using fake = await startFakeOpenMeteo({
      script: [
        {
          body: {
            ...sample([[1, 0, 0]]),
            daily: {
              time: ["2024-01-01"],
              temperature_2m_max: [1],
              temperature_2m_min: [],
              precipitation_sum: [0],
            },
          },
        },
      ],
    });
    const error = await upstreamError(fetchMonth(request(), { baseUrl: fake.url }));
    expect(error.retryable).toBe(true);
    expect(error.message).toContain("every daily series must have one value per date in daily.time");
  });

  it("gives up after the timeout, retryably", async () => {
    await using fake = await startFakeOpenMeteo({ latencyMs: 5_000 });
    const error = await upstreamError(fetchMonth(request(), { baseUrl: fake.url, timeoutMs: 100 }));
    expect(error.retryable).toBe(true);
    expect(error.message).toBe("Open-Meteo did not answer within 0.1 s");
  });

  it("rejects with the caller's abort reason, not an UpstreamError", async () => {
    await using fake = await startFakeOpenMeteo({ latencyMs: 5_000 });
    const controller = new AbortController();
    const pending = fetchMonth(request(), { baseUrl: fake.url, signal: controller.signal });
    const reason = new Error("job cancelled");
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
  });
});

/** An archive answer for January 2024 with the given [max, min, precipitation] per day. */
function sample(days: (number | null)[][]): OpenMeteoArchiveResponse {
  return {
    latitude: 53.5,
    longitude: -113.5,
    timezone: "America/Edmonton",
    daily_units: { temperature_2m_max: "°C", temperature_2m_min: "°C", precipitation_sum: "mm" },
    daily: {
      time: days.map((_, i) => `2024-01-${String(i + 1).padStart(2, "0")}`),
      temperature_2m_max: days.map((day) => day[0] ?? null),
      temperature_2m_min: days.map((day) => day[1] ?? null),
      precipitation_sum: days.map((day) => day[2] ?? null),
    },
  };
}

describe("summarize", () => {
  it("summarizes a fetched month into a result that matches its schema", async () => {
    await using fake = await startFakeOpenMeteo();
    const response = await fetchMonth(request(), { baseUrl: fake.url });
    const result = summarize(response, request());

    expect(WeatherResultSchema.parse(result)).toEqual(result);
    expect(result.location).toEqual({ latitude: 53.6, longitude: -113.5, timezone: "America/Edmonton" });
    expect(result).toMatchObject({ year: 2024, month: 1 });
    expect(result.days).toHaveLength(31);
    expect(result.summary.days).toBe(31);
    expect(result.summary.missing_days).toBe(0);

    const maxima = response.daily.temperature_2m_max as number[];
    const minima = response.daily.temperature_2m_min as number[];
    const rain = response.daily.precipitation_sum as number[];
    const mean = maxima.reduce((sum, max, i) => sum + (max + minima[i]!) / 2, 0) / 31;
    expect(result.summary.temperature_max_c).toBe(Math.max(...maxima));
    expect(result.summary.temperature_min_c).toBe(Math.min(...minima));
    expect(result.summary.temperature_mean_c).toBeCloseTo(mean, 1);
    expect(result.summary.precipitation_total_mm).toBeCloseTo(
      rain.reduce((sum, mm) => sum + mm, 0),
      1,
    );
    expect(result.summary.wettest_day?.precipitation_mm).toBe(Math.max(...rain));
  });

  it("rounds the mean and the total to 0.1", () => {
    const result = summarize(
      sample([
        [1.1, -0.2, 0.1],
        [2.2, 0.3, 0.2],
        [0.4, -3.3, 0],
      ]),
      request(),
    );
    // Mean (0.45 + 1.25 - 1.45) / 3 = 0.083…; total 0.1 + 0.2 = 0.30000000000000004.
    expect(result.summary.temperature_mean_c).toBe(0.1);
    expect(result.summary.precipitation_total_mm).toBe(0.3);
  });

  it("leaves out missing values and counts the days that lack any", () => {
    const result = summarize(
      sample([
        [5, -5, 2],
        [null, -7, 4],
        [3, 1, null],
        [null, null, null],
      ]),
      request(),
    );
    expect(result.days[1]).toEqual({
      date: "2024-01-02",
      temperature_max_c: null,
      temperature_min_c: -7,
      precipitation_mm: 4,
    });
    expect(result.summary).toEqual({
      days: 4,
      temperature_min_c: -7,
      temperature_max_c: 5,
      temperature_mean_c: 1,
      precipitation_total_mm: 6,
      wettest_day: { date: "2024-01-02", precipitation_mm: 4 },
      missing_days: 3,
    });
    expect(WeatherResultSchema.safeParse(result).success).toBe(true);
  });

  it("has no wettest day in a dry month, and takes the first of equally wet days", () => {
    const dry = summarize(sample([[1, 0, 0]]), request());
    expect(dry.summary).not.toHaveProperty("wettest_day");
    expect(dry.summary.precipitation_total_mm).toBe(0);

    const tie = summarize(
      sample([
        [1, 0, 3],
        [1, 0, 3],
      ]),
      request(),
    );
    expect(tie.summary.wettest_day).toEqual({ date: "2024-01-01", precipitation_mm: 3 });
  });

  it("answers null figures when no day has data", () => {
    const result = summarize(sample([[null, null, null]]), request());
    expect(result.summary).toEqual({
      days: 1,
      temperature_min_c: null,
      temperature_max_c: null,
      temperature_mean_c: null,
      precipitation_total_mm: null,
      missing_days: 1,
    });
    expect(WeatherResultSchema.safeParse(result).success).toBe(true);
  });
});

describe("archiveUrlFromEnv", () => {
  it("uses Open-Meteo's public archive by default", () => {
    expect(archiveUrlFromEnv({})).toBe(DEFAULT_ARCHIVE_URL);
    expect(archiveUrlFromEnv({ OPEN_METEO_ARCHIVE_URL: " " })).toBe(DEFAULT_ARCHIVE_URL);
  });

  it("uses OPEN_METEO_ARCHIVE_URL when set", () => {
    expect(archiveUrlFromEnv({ OPEN_METEO_ARCHIVE_URL: "http://127.0.0.1:8787/v1/archive" })).toBe(
      "http://127.0.0.1:8787/v1/archive",
    );
  });

  it("throws a helpful error for a value that is not an http(s) URL", () => {
    expect(() => archiveUrlFromEnv({ OPEN_METEO_ARCHIVE_URL: "archive-api.open-meteo.com" })).toThrow(
      /^OPEN_METEO_ARCHIVE_URL must be an http\(s\) URL/,
    );
    expect(() => archiveUrlFromEnv({ OPEN_METEO_ARCHIVE_URL: "ftp://example.com" })).toThrow(
      "OPEN_METEO_ARCHIVE_URL",
    );
  });
});

/**
 * Tests for the Open-Meteo client: real fetches against the fake archive on 127.0.0.1, with their error
 * classification, and the archive URL from the environment.
 */
import { describe, expect, it, vi } from "vitest";
import { sample } from "../../test/support/archive-sample.ts";
import { startFakeOpenMeteo } from "../../test/support/fake-open-meteo.ts";
import { archiveUrlFromEnv, DEFAULT_ARCHIVE_URL, fetchMonth, UpstreamError } from "./client.ts";
import { type WeatherRequest, WeatherRequestSchema } from "./schemas.ts";

const edmonton = { latitude: 53.55, longitude: -113.49 };

function request(overrides: Record<string, unknown> = {}): WeatherRequest {
  return WeatherRequestSchema.parse({ ...edmonton, year: 2024, month: 1, ...overrides });
}

async function upstreamError(promise: Promise<unknown>): Promise<UpstreamError> {
  const error = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(error).toBeInstanceOf(UpstreamError);
  return error as UpstreamError;
}

describe("fetchMonth", () => {
  it("fetches and validates all 31 days of January in the request's timezone", async () => {
    await using fake = await startFakeOpenMeteo();
    const response = await fetchMonth(request({ timezone: "America/Edmonton" }), { baseUrl: fake.url });

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

  it("asks for the place's own time zone by default and reports the one the archive picked", async () => {
    await using fake = await startFakeOpenMeteo();
    const response = await fetchMonth(request(), { baseUrl: fake.url });
    expect(fake.requestsFor({ timezone: "auto" })).toBe(1);
    expect(response.timezone).toBe("Etc/GMT+8");
  });

  it("sends the canonical name of a time zone alias", async () => {
    await using fake = await startFakeOpenMeteo();
    await fetchMonth(request({ timezone: "etc/utc" }), { baseUrl: fake.url });
    expect(fake.requestsFor({ timezone: "UTC" })).toBe(1);
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
  });

  it("quotes only the start of a long bad value", () => {
    let message = "";
    try {
      archiveUrlFromEnv({ OPEN_METEO_ARCHIVE_URL: `ftp://${"a".repeat(5000)}` });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/got "ftp:\/\/a+…$/);
    expect(message.length).toBeLessThan(200);
    expect(() => archiveUrlFromEnv({ OPEN_METEO_ARCHIVE_URL: "ftp://example.com" })).toThrow(
      "OPEN_METEO_ARCHIVE_URL",
    );
  });
});

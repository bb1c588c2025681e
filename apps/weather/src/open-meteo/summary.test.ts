/**
 * Tests for the summary of a month: figures that match the daily values, rounding, missing data.
 */

import { must } from "@async-tools/test-helpers/must";
import { describe, expect, it } from "vitest";
import { sample } from "../../test/support/archive-sample.ts";
import { startFakeOpenMeteo } from "../../test/support/fake-open-meteo.ts";
import { fetchArchive, fetchMonth } from "./client.ts";
import { type WeatherRequest, WeatherRequestSchema, WeatherResultSchema } from "./schemas.ts";
import { summarize, summarizeMonths } from "./summary.ts";

const edmonton = { latitude: 53.55, longitude: -113.49 };

function request(overrides: Record<string, unknown> = {}): WeatherRequest {
  return WeatherRequestSchema.parse({ ...edmonton, year: 2024, month: 1, ...overrides });
}

describe("summarize", () => {
  it("summarizes a fetched month into a result that matches its schema", async () => {
    await using fake = await startFakeOpenMeteo();
    const response = await fetchMonth(request(), { baseUrl: fake.url });
    const result = summarize(response, request());

    expect(WeatherResultSchema.parse(result)).toEqual(result);
    expect(result.location).toEqual({ latitude: 53.6, longitude: -113.5, timezone: "Etc/GMT+8" });
    expect(result).toMatchObject({ year: 2024, month: 1 });
    expect(result.days).toHaveLength(31);
    expect(result.summary.days).toBe(31);
    expect(result.summary.missing_days).toBe(0);

    const maxima = response.daily.temperature_2m_max as number[];
    const minima = response.daily.temperature_2m_min as number[];
    const rain = response.daily.precipitation_sum as number[];
    const mean =
      maxima.reduce((sum, max, i) => sum + (max + must(minima[i], `the minimum of day ${i}`)) / 2, 0) / 31;
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

describe("summarizeMonths", () => {
  it("splits one answer for several months into each month's result, as if fetched alone", async () => {
    await using fake = await startFakeOpenMeteo();
    const query = { ...edmonton, timezone: "UTC", start_date: "2023-11-01", end_date: "2023-12-31" };
    const both = await fetchArchive(query, { baseUrl: fake.url });
    const [november, december] = summarizeMonths(both, [
      { year: 2023, month: 11 },
      { year: 2023, month: 12 },
    ]);
    expect(november?.days).toHaveLength(30);
    expect(december?.days.map((d) => d.date).at(-1)).toBe("2023-12-31");
    const alone = summarize(
      await fetchMonth(request({ year: 2023, month: 12, timezone: "UTC" }), { baseUrl: fake.url }),
      {
        year: 2023,
        month: 12,
      },
    );
    expect(december).toEqual(alone);
    expect(WeatherResultSchema.safeParse(november).success).toBe(true);
  });
});

/**
 * Tests for the weather tool's input schema: messages a model can act on, the place's own time zone by
 * default, and canonical time zones so that aliases make one job.
 */

import { must } from "@async-tools/test-helpers/must";
import { afterEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { echo, type WeatherRequest, WeatherRequestSchema } from "./schemas.ts";

const edmonton = { latitude: 53.55, longitude: -113.49 };

function request(overrides: Record<string, unknown> = {}): WeatherRequest {
  return WeatherRequestSchema.parse({ ...edmonton, year: 2024, month: 1, ...overrides });
}

function messages(input: unknown): string[] {
  const result = WeatherRequestSchema.safeParse(input);
  return result.success ? [] : result.error.issues.map((issue) => issue.message);
}

afterEach(() => {
  vi.useRealTimers();
});

describe("WeatherRequestSchema", () => {
  it("counts days in the place's own time zone when no timezone is given", () => {
    expect(request().timezone).toBe("auto");
    expect(request({ timezone: "Auto" }).timezone).toBe("auto");
  });

  it("canonicalises time zone aliases, so that they make one request", () => {
    for (const alias of ["UTC", "Etc/UTC", "utc", " etc/utc ", "Etc/Universal", "Zulu"]) {
      expect(request({ timezone: alias }).timezone, alias).toBe("UTC");
    }
    expect(request({ timezone: "US/Pacific" }).timezone).toBe("America/Los_Angeles");
    expect(request({ timezone: "europe/berlin" }).timezone).toBe("Europe/Berlin");
  });

  it("refuses UTC offsets, which Open-Meteo does not take as a timezone", () => {
    expect(messages({ ...edmonton, year: 2024, month: 1, timezone: "+05:00" })).toHaveLength(1);
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
      new RegExp(`^${year}-06 has no complete day yet \\(today is \\d{4}-\\d{2}-\\d{2} (in|at)`),
    );
  });

  it("names a far-future year as it was given", () => {
    const [message] = messages({ ...edmonton, year: 1e9, month: 1 });
    expect(message).toMatch(/^1000000000-01 has no complete day yet \(today is/);
  });

  it("keeps the year in the message that refuses it", () => {
    expect(messages({ ...edmonton, year: 1066, month: 10 })).toEqual([
      "year must be 1940 or later, got 1066: Open-Meteo's archive starts in 1940",
    ]);
  });

  it("refuses years before 1940 because the archive starts then", () => {
    expect(messages({ ...edmonton, year: 1939, month: 12 })).toEqual([
      "year must be 1940 or later, got 1939: Open-Meteo's archive starts in 1940",
    ]);
  });

  it("names the unknown timezone and shows valid ones", () => {
    expect(messages({ ...edmonton, year: 2024, month: 1, timezone: "Mars/Olympus_Mons" })).toEqual([
      'timezone "Mars/Olympus_Mons" is not an IANA time zone name; use "auto" (the place\'s own) or one ' +
        'such as "America/Edmonton", "Europe/Berlin" or "UTC"',
    ]);
  });

  it("echoes only a short prefix of a long bad value", () => {
    const [message] = messages({
      ...edmonton,
      year: 2024,
      month: 1,
      timezone: `Europe/${"x".repeat(10_000)}`,
    });
    expect(message).toMatch(/^timezone "Europe\/x+… is not an IANA time zone name/);
    expect(must(message, "a validation message").length).toBeLessThan(200);
    expect(echo("short")).toBe('"short"');
    expect(echo("y".repeat(100))).toHaveLength(40);
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
    expect(messages({ ...edmonton, year: 2024, month: 3, timezone: "America/Edmonton" })).toEqual([
      "2024-03 has no complete day yet (today is 2024-03-01 in America/Edmonton): ask for an earlier month; " +
        "the current month can be asked for from its second day on",
    ]);
    expect(messages({ ...edmonton, year: 2024, month: 3, timezone: "Europe/Berlin" })).toEqual([]);
  });

  it("counts the current month at the place itself when the timezone is auto", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date("2024-03-02T06:00:00Z"));
    expect(messages({ ...edmonton, year: 2024, month: 3 })).toEqual([
      "2024-03 has no complete day yet (today is 2024-03-01 at this place): ask for an earlier month; " +
        "the current month can be asked for from its second day on",
    ]);
    expect(messages({ latitude: 52.52, longitude: 13.4, year: 2024, month: 3 })).toEqual([]);
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

  it("shows the timezone as a string defaulting to auto in its JSON schema, despite the canonicalising transform", () => {
    const schema = z.toJSONSchema(WeatherRequestSchema, { io: "input" }) as {
      properties: Record<string, Record<string, unknown>>;
    };
    expect(schema.properties.timezone).toMatchObject({ type: "string", default: "auto" });
  });
});

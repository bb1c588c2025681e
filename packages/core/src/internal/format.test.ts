import { describe, expect, it } from "vitest";
import { parseDuration, parseSince, progressBar, relativeTime, shortDuration, table } from "./format.ts";

const now = Date.parse("2026-03-01T12:00:00Z");

describe("format", () => {
  it("places times relative to now in one unit", () => {
    expect(relativeTime("2026-03-01T11:59:59.500Z", now)).toBe("just now");
    expect(relativeTime("2026-03-01T11:59:30Z", now)).toBe("30s ago");
    expect(relativeTime("2026-03-01T11:35:31Z", now)).toBe("24m ago");
    expect(relativeTime("2026-02-27T12:00:00Z", now)).toBe("2d ago");
    expect(relativeTime("2026-03-01T12:00:05Z", now)).toBe("in 5s");
    expect(relativeTime(undefined, now)).toBe("-");
  });

  it("writes durations in at most two units", () => {
    expect(shortDuration(850)).toBe("850ms");
    expect(shortDuration(4200)).toBe("4.2s");
    expect(shortDuration(190_000)).toBe("3m 10s");
    expect(shortDuration(2 * 3_600_000 + 5 * 60_000 + 7000)).toBe("2h 5m");
  });

  it("parses durations and --since", () => {
    expect(parseDuration("30s")).toBe(30_000);
    expect(parseDuration("7d")).toBe(604_800_000);
    expect(parseDuration("soon")).toBeUndefined();
    expect(parseSince("1h", now)).toBe(now - 3_600_000);
    expect(parseSince("2026-02-01", now)).toBe(Date.parse("2026-02-01"));
    expect(parseSince("yesterday", now)).toBeUndefined();
  });

  it("draws progress and aligns tables", () => {
    expect(progressBar(0.4)).toBe("####------ 40%");
    expect(
      table(
        ["A", "LONGER"],
        [
          ["x", "1"],
          ["yyy", "22"],
        ],
      ),
    ).toBe("A    LONGER\nx    1\nyyy  22");
  });
});

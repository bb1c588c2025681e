/**
 * Tests for the calendar: canonical time zone names, the zone "today" is counted in for `auto`, and the
 * dates of a month.
 */
import { describe, expect, it } from "vitest";
import { canonicalTimeZone, dayZone, isTimeZone, monthRange } from "./calendar.ts";

describe("canonicalTimeZone", () => {
  it("gives one name for every alias of a zone", () => {
    const utc = ["UTC", "Etc/UTC", "utc", "GMT", "Etc/GMT", "Etc/Zulu", "etc/greenwich", "GMT0", "Etc/UCT"];
    expect(new Set(utc.map(canonicalTimeZone))).toEqual(new Set(["UTC"]));
    expect(canonicalTimeZone("asia/tokyo")).toBe("Asia/Tokyo");
  });

  it("keeps auto in any casing, and knows no offsets or unknown names", () => {
    expect(canonicalTimeZone("AUTO")).toBe("auto");
    expect(canonicalTimeZone("+05:00")).toBeUndefined();
    expect(canonicalTimeZone("Mars/Olympus_Mons")).toBeUndefined();
    expect(isTimeZone("auto")).toBe(false);
    expect(isTimeZone("Europe/Berlin")).toBe(true);
  });
});

describe("dayZone", () => {
  it("uses a named zone as it is", () => {
    expect(dayZone("Asia/Tokyo", -113.49)).toBe("Asia/Tokyo");
  });

  it("takes the nautical zone of the longitude for auto", () => {
    expect(dayZone("auto", -113.49)).toBe("Etc/GMT+8");
    expect(dayZone("auto", 139.69)).toBe("Etc/GMT-9");
    expect(dayZone("auto", 2.35)).toBe("UTC");
    expect(dayZone("auto", 180)).toBe("Etc/GMT-12");
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
    expect(() => monthRange(1e9, 4, { now })).toThrow("1000000000-04 has no complete day yet");
  });
});

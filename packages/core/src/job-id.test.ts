import { describe, expect, it } from "vitest";
import { baseIdOf, canonicalJson, defaultJobId, jobIdFor, runId, sanitizeIdPart } from "./job-id.ts";

describe("job IDs", () => {
  it("gives a principal's input its own job, for hashed and for custom IDs", () => {
    const hashed = { name: "weather" };
    const custom = { name: "report", jobId: (input: { month: string }) => input.month };
    expect(jobIdFor(hashed, { a: 1 })).toBe(defaultJobId("weather", { a: 1 }));
    expect(jobIdFor(hashed, { a: 1 }, "alice")).toBe(defaultJobId("weather", { a: 1 }, "alice"));
    expect(jobIdFor(custom, { month: "2024 01" })).toBe("report-2024_01");
    expect(jobIdFor(custom, { month: "2024-01" }, "alice")).toMatch(/^report-2024-01-[0-9a-f]{16}$/);
    expect(jobIdFor(custom, { month: "2024-01" }, "bob")).not.toBe(
      jobIdFor(custom, { month: "2024-01" }, "alice"),
    );
  });

  it("reads the base ID back from any run's ID", () => {
    expect(baseIdOf(runId("report-2024-01", 1))).toBe("report-2024-01");
    expect(baseIdOf(runId("report-2024-01", 3))).toBe("report-2024-01");
  });

  it("returns the same job for reordered arguments", () => {
    expect(defaultJobId("weather", { a: 1, b: { d: [1, 2], c: "x" } })).toBe(
      defaultJobId("weather", { b: { c: "x", d: [1, 2] }, a: 1 }),
    );
  });

  it("returns different jobs for different values and different tools", () => {
    const a = defaultJobId("weather", { a: 1 });
    expect(defaultJobId("weather", { a: 2 })).not.toBe(a);
    expect(defaultJobId("other", { a: 1 })).not.toBe(a);
  });

  it("keeps the ID of an input without a principal, and gives each principal its own", () => {
    // Pinned: job IDs started before principals existed must still be found.
    expect(defaultJobId("weather", { a: 1 })).toBe("weather-015abd7f5cc57a2d");
    expect(defaultJobId("weather", { a: 1 }, undefined)).toBe("weather-015abd7f5cc57a2d");
    const alice = defaultJobId("weather", { a: 1 }, "alice");
    expect(alice).toMatch(/^weather-[0-9a-f]{16}$/);
    expect(alice).not.toBe(defaultJobId("weather", { a: 1 }));
    expect(alice).not.toBe(defaultJobId("weather", { a: 1 }, "bob"));
    expect(alice).toBe(defaultJobId("weather", { a: 1 }, "alice"));
  });

  it("ignores undefined properties, like JSON does", () => {
    expect(canonicalJson({ a: 1, b: undefined })).toBe(canonicalJson({ a: 1 }));
  });

  it("keeps array order significant", () => {
    expect(canonicalJson([1, 2])).not.toBe(canonicalJson([2, 1]));
  });

  it("never contains a colon, which Resonate reserves in root IDs", () => {
    expect(defaultJobId("ns:tool with spaces", { a: 1 })).toMatch(/^ns_tool_with_spaces-[0-9a-f]{16}$/);
    expect(sanitizeIdPart("a:b/c")).toBe("a_b_c");
  });

  it("numbers fresh runs after the first", () => {
    expect(runId("x-1", 1)).toBe("x-1");
    expect(runId("x-1", 3)).toBe("x-1.r3");
  });
});

/**
 * Job IDs are a stored format: a running job is found again by recomputing its ID from its arguments. These
 * vectors were computed once, outside this code (SHA-256 of the canonical text by another implementation),
 * and must never change: a change here orphans every job in every store.
 */
describe("the job ID format (golden vectors)", () => {
  const vectors: { tool: string; input: unknown; canonical: string; id: string }[] = [
    { tool: "weather_data", input: {}, canonical: "{}", id: "weather_data-44136fa355b3678a" },
    {
      tool: "weather_data",
      input: { year: 2024, month: 1, latitude: 51.05, longitude: -114.07, timezone: "auto" },
      canonical: '{"latitude":51.05,"longitude":-114.07,"month":1,"timezone":"auto","year":2024}',
      id: "weather_data-fa20c2fcb1b2fdc0",
    },
    {
      tool: "ns:tool with spaces",
      input: { b: [3, { z: null, a: "é" }], a: true, skip: undefined },
      canonical: '{"a":true,"b":[3,{"a":"é","z":null}]}',
      id: "ns_tool_with_spaces-3d644411756ea969",
    },
    {
      tool: "render",
      input: { when: new Date("2024-01-02T03:04:05.000Z"), big: 10n, inf: Number.POSITIVE_INFINITY },
      canonical: '{"big":"10","inf":"Infinity","when":"2024-01-02T03:04:05.000Z"}',
      id: "render-65c30dc9a2973d98",
    },
  ];
  for (const v of vectors) {
    it(`keeps ${v.id.split("-")[0]}'s canonical JSON and ID for ${v.canonical.slice(0, 40)}`, () => {
      expect(canonicalJson(v.input)).toBe(v.canonical);
      expect(defaultJobId(v.tool, v.input)).toBe(v.id);
    });
  }
});

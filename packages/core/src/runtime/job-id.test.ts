import { describe, expect, it } from "vitest";
import { canonicalJson, defaultJobId, runId, sanitizeIdPart } from "./job-id.ts";

describe("job IDs", () => {
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

import { describe, expect, it } from "vitest";
import { normalizeJobIds } from "./job-id-args.ts";

const read = (raw: unknown) => normalizeJobIds(raw, "job_ids", "tool-123");

describe("reading job IDs sent by a model", () => {
  it("accepts a plain list", () => {
    expect(read(["a", "b"])).toEqual({ ok: true, ids: ["a", "b"] });
  });

  it("accepts a JSON string of a list", () => {
    expect(read('["a", "b"]')).toEqual({ ok: true, ids: ["a", "b"] });
  });

  it("accepts a single ID", () => {
    expect(read("a")).toEqual({ ok: true, ids: ["a"] });
  });

  it("accepts objects carrying an ID, alone, listed, or as JSON", () => {
    expect(read([{ job_id: "a" }, { job_name: "b" }])).toEqual({ ok: true, ids: ["a", "b"] });
    expect(read({ job_id: "a" })).toEqual({ ok: true, ids: ["a"] });
    expect(read('[{"job_id": "a"}]')).toEqual({ ok: true, ids: ["a"] });
  });

  it("accepts a comma-separated string and drops duplicates", () => {
    expect(read("a, b,a")).toEqual({ ok: true, ids: ["a", "b"] });
  });

  it("rejects anything else with the expected shape in the message", () => {
    for (const bad of [42, [1, 2], { nothing: true }, "[not json", [], null]) {
      const result = read(bad);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.message).toContain('{"job_ids": ["tool-123"]}');
    }
  });

  it("refuses more IDs than one call takes", () => {
    const result = read(Array.from({ length: 1001 }, (_, i) => `id-${i}`));
    expect(result.ok).toBe(false);
  });
});

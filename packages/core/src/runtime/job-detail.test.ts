import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { defineAsyncTool } from "../define.ts";
import { PermanentError } from "../errors.ts";
import { createAsyncTools } from "./runtime.ts";

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

function tempStore(): string {
  const dir = mkdtempSync(join(tmpdir(), "async-tools-detail-"));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return `sqlite:${join(dir, "jobs.db")}`;
}

/** `fetch` fails `failures` times, then answers; `total` adds one. */
function flakyTool(failures: number) {
  let calls = 0;
  return defineAsyncTool({
    name: "flaky",
    description: "Fails a few times",
    input: z.object({ city: z.string(), failures: z.number().default(failures) }),
    retry: { attempts: 3, initialDelayMs: 10 },
    run: async (ctx, { city }) => {
      const fetched = await ctx.run("fetch", () => {
        calls += 1;
        if (calls <= failures) throw new Error(`503 from upstream (call ${calls})`);
        return city.length;
      });
      return ctx.run("total", () => fetched + 1);
    },
  });
}

describe("runtime.get", () => {
  it("returns the input, result and every step with each attempt's error and times", async () => {
    const tool = flakyTool(2);
    await using runtime = await createAsyncTools({ store: tempStore(), tools: [tool] });
    const job = await runtime.start(tool, { city: "Paris" });
    await runtime.wait([job.jobId], { timeoutMs: 10_000 });
    const detail = await runtime.get(job.jobId);
    expect(detail).toMatchObject({ status: "completed", tool: "flaky", result: 6 });
    expect(detail.input).toEqual({ city: "Paris", failures: 2 });
    expect(detail.steps.map((s) => [s.name, s.status, s.attempts.length])).toEqual([
      ["fetch", "succeeded", 3],
      ["total", "succeeded", 1],
    ]);
    const [first, second, third] = detail.steps[0]?.attempts ?? [];
    expect(first).toMatchObject({ attempt: 1, outcome: "failed", error: "503 from upstream (call 1)" });
    expect(first?.retryAt).toBeDefined();
    expect(second).toMatchObject({ attempt: 2, outcome: "failed", error: "503 from upstream (call 2)" });
    expect(third).toMatchObject({ attempt: 3, outcome: "succeeded" });
    expect(Date.parse(third?.startedAt ?? "")).toBeGreaterThanOrEqual(Date.parse(first?.endedAt ?? ""));
    expect(third?.durationMs).toBeGreaterThanOrEqual(0);
  });

  it("returns the error of a failed job and the attempts that led to it", async () => {
    const broken = defineAsyncTool({
      name: "broken",
      description: "Always refused",
      input: z.object({}),
      run: async (ctx) =>
        ctx.run("call", () => {
          throw new PermanentError("400 bad request");
        }),
    });
    await using runtime = await createAsyncTools({ store: "memory", tools: [broken] });
    const job = await runtime.start(broken, {});
    await runtime.wait([job.jobId], { timeoutMs: 10_000 });
    const detail = await runtime.get(job.jobId);
    expect(detail).toMatchObject({ status: "failed", error: { code: "failed", message: "400 bad request" } });
    expect(detail.steps[0]?.attempts).toMatchObject([
      { attempt: 1, outcome: "failed", error: "400 bad request" },
    ]);
  });

  it("says not_found, with no steps, for an unknown ID", async () => {
    await using runtime = await createAsyncTools({ store: "memory", tools: [] });
    expect(await runtime.get("nope")).toMatchObject({ status: "not_found", steps: [] });
  });

  it("does not count a step replayed after a restart as an attempt, and marks an interrupted one", async () => {
    const store = tempStore();
    const never = new Promise<number>(() => undefined);
    const twoSteps = (second: () => Promise<number> | number) =>
      defineAsyncTool({
        name: "two",
        description: "Two steps",
        input: z.object({ n: z.number() }),
        run: async (ctx, { n }) => {
          const a = await ctx.run("one", () => n + 1);
          ctx.progress(0.5, "one done");
          return ctx.run("two", second).then((b) => a + b);
        },
      });
    const first = await createAsyncTools({ store, tools: [twoSteps(() => never)] });
    const job = await first.start(
      twoSteps(() => never),
      { n: 1 },
    );
    await expect.poll(async () => (await first.get(job.jobId)).steps.length).toBe(2);
    await first.close();

    await using second = await createAsyncTools({ store, tools: [twoSteps(() => 10)] });
    const [done] = await second.wait([job.jobId], { timeoutMs: 10_000 });
    expect(done?.result).toBe(12);
    const detail = await second.get(job.jobId);
    expect(detail.steps.map((s) => s.attempts.map((a) => a.outcome))).toEqual([
      ["succeeded"],
      ["interrupted", "succeeded"],
    ]);
  });
});

describe("runtime.list", () => {
  it("filters by status and by start time, paging through what does not match", async () => {
    const ok = defineAsyncTool({
      name: "ok",
      description: "Fails odd numbers",
      input: z.object({ n: z.number() }),
      run: async (ctx, { n }) =>
        ctx.run("check", () => {
          if (n % 2 === 1) throw new PermanentError("odd");
          return n;
        }),
    });
    await using runtime = await createAsyncTools({ store: "memory", tools: [ok] });
    const ids: string[] = [];
    for (let n = 0; n < 7; n += 1) ids.push((await runtime.start(ok, { n })).jobId);
    await runtime.wait(ids, { timeoutMs: 10_000 });

    const failed: string[] = [];
    let cursor: number | undefined;
    do {
      const page = await runtime.list({ status: "failed", limit: 2, ...(cursor ? { cursor } : {}) });
      expect(page.jobs.length).toBeLessThanOrEqual(2);
      failed.push(...page.jobs.map((j) => j.jobId));
      cursor = page.next;
    } while (cursor !== undefined);
    expect(failed).toEqual([ids[1], ids[3], ids[5]]);

    const both = await runtime.list({ status: ["completed", "failed"] });
    expect(both.jobs).toHaveLength(7);
    expect((await runtime.list({ since: Date.now() + 60_000 })).jobs).toEqual([]);
    expect((await runtime.list({ since: new Date(0) })).jobs).toHaveLength(7);
  });
});

/**
 * The log lines of a job's life, as an operator reads them: one JSON object per event on stderr, each with
 * a time, a level, the job ID and the tool; and none of Resonate's normal-run noise at the default level.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { createAsyncTools, defineAsyncTool } from "../src/index.ts";
import { gate } from "./helpers.ts";

const cleanup: (() => Promise<void> | void)[] = [];
let lines: string[] = [];
beforeEach(() => {
  lines = [];
  vi.stubEnv("ASYNC_TOOLS_LOG", "info");
  vi.stubEnv("ASYNC_TOOLS_LOG_FORMAT", "json");
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    lines.push(...String(chunk).split("\n").filter(Boolean));
    return true;
  });
});
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

type Line = Record<string, unknown> & { time: string; level: string; msg: string };
const events = (job: string): Line[] => lines.map((l) => JSON.parse(l) as Line).filter((l) => l.job === job);

describe("job logs", () => {
  it("logs start, each retry with its error and delay, and completion with its duration", async () => {
    let calls = 0;
    const flaky = defineAsyncTool({
      name: "flaky",
      description: "Fails once",
      input: z.object({}),
      retry: { attempts: 3, initialDelayMs: 20 },
      run: async (ctx) =>
        ctx.run("fetch", () => {
          calls += 1;
          if (calls === 1) throw new Error("503 Service Unavailable");
          return "ok";
        }),
    });
    await using runtime = await createAsyncTools({ store: "memory", tools: [flaky] });
    const { jobId } = await runtime.start(flaky, {});
    await runtime.wait([jobId], { timeoutMs: 10_000 });
    const seen = events(jobId);
    expect(seen.map((l) => [l.level, l.msg])).toEqual([
      ["info", "job started"],
      ["warn", "step retried"],
      ["info", "job completed"],
    ]);
    for (const line of seen) {
      expect(line.tool).toBe("flaky");
      expect(Date.parse(line.time)).not.toBeNaN();
    }
    expect(seen[1]).toMatchObject({ step: "fetch", attempt: "1/3", error: "503 Service Unavailable" });
    expect(seen[1]?.nextInMs).toBeGreaterThanOrEqual(0);
    expect(seen[2]?.durationMs).toBeGreaterThanOrEqual(0);
  });

  it("logs a failure with its error after the retries ran out", async () => {
    const broken = defineAsyncTool({
      name: "broken",
      description: "Always fails",
      input: z.object({}),
      retry: { attempts: 2, initialDelayMs: 10 },
      run: async (ctx) =>
        ctx.run("call", () => {
          throw new Error("upstream down");
        }),
    });
    await using runtime = await createAsyncTools({ store: "memory", tools: [broken] });
    const { jobId } = await runtime.start(broken, {});
    await runtime.wait([jobId], { timeoutMs: 10_000 });
    expect(events(jobId).map((l) => l.msg)).toEqual(["job started", "step retried", "job failed"]);
    expect(events(jobId).at(-1)).toMatchObject({ level: "warn", tool: "broken", error: "upstream down" });
  });

  it("logs a cancel once, and keeps Resonate's fence-check error of the cancelled step out of the default level", async () => {
    const hold = gate();
    const slow = defineAsyncTool({
      name: "slow",
      description: "Waits",
      input: z.object({}),
      run: async (ctx) =>
        ctx.run("wait", async () => {
          await hold.promise;
          return 1;
        }),
    });
    // Debug, to see the line Resonate writes, and check that it is no more than debug.
    vi.stubEnv("ASYNC_TOOLS_LOG", "debug");
    await using runtime = await createAsyncTools({ store: "memory", tools: [slow] });
    const { jobId } = await runtime.start(slow, {});
    await expect.poll(async () => (await runtime.get(jobId)).steps.length).toBe(1);
    await runtime.cancel(jobId, "not needed");
    // The step finishes after the cancel: Resonate's settle of it is refused ("Fence check failed").
    hold.open();
    await expect.poll(() => lines.some((l) => l.includes("Fence check failed"))).toBe(true);
    await runtime.close();
    // Above debug (the release of the refused execution is a debug line): one start, one cancel.
    const told = events(jobId).filter((l) => l.level !== "debug");
    expect(told.map((l) => l.msg)).toEqual(["job started", "job cancelled"]);
    expect(told[1]).toMatchObject({ level: "info", tool: "slow", reason: "not needed" });
    const parsed = lines.map((l) => JSON.parse(l) as Line);
    const resonate = parsed.filter((l) => l.source === "resonate");
    expect(resonate.filter((l) => l.level !== "debug")).toEqual([]);
    expect(parsed.filter((l) => l.level === "warn" || l.level === "error")).toEqual([]);
  });

  it("keeps a cancel made through another process of the store out of the failures, even when the step ends first", async () => {
    const hold = gate();
    const deaf = defineAsyncTool({
      name: "deaf",
      description: "Waits, ignoring its signal",
      input: z.object({}),
      run: async (ctx) =>
        ctx.run("wait", async () => {
          await hold.promise;
          return 1;
        }),
    });
    vi.stubEnv("ASYNC_TOOLS_LOG", "debug");
    const dir = mkdtempSync(join(tmpdir(), "async-tools-logs-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const store = `sqlite:${join(dir, "jobs.db")}`;
    await using owner = await createAsyncTools({ store, tools: [deaf] });
    await using joiner = await createAsyncTools({ store, tools: [deaf] });
    const { jobId } = await owner.start(deaf, {});
    await expect.poll(async () => (await owner.get(jobId)).steps.length).toBe(1);
    expect((await joiner.cancel(jobId, "not needed")).status).toBe("cancelled");
    // The step ends whether or not the owner has heard of the cancel yet (its change feed may tell it first,
    // and then it says it stops the work): either way the store refuses its result.
    hold.open();
    // The execution has ended once the store refused its settle and it stood down.
    await expect
      .poll(
        () =>
          events(jobId).some((l) =>
            /job execution stood down|releasing it until the store takes it back/.test(l.msg),
          ),
        {
          timeout: 10_000,
        },
      )
      .toBe(true);
    const heard = "job settled elsewhere; stopping its work here";
    const told = events(jobId).filter((l) => l.level !== "debug");
    expect(told.filter((l) => l.msg !== heard).map((l) => l.msg)).toEqual(["job started", "job cancelled"]);
    for (const line of told.filter((l) => l.msg === heard)) expect(line.level).toBe("info");
    expect(lines.map((l) => JSON.parse(l) as Line).filter((l) => l.level === "warn")).toEqual([]);
  });

  it("logs a job that resumes after a restart", async () => {
    const dir = mkdtempSync(join(tmpdir(), "async-tools-logs-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const store = `sqlite:${join(dir, "jobs.db")}`;
    const tool = (step: () => Promise<number> | number) =>
      defineAsyncTool({
        name: "resumable",
        description: "One step",
        input: z.object({}),
        run: async (ctx) => ctx.run("work", step),
      });
    const first = await createAsyncTools({
      store,
      tools: [tool(() => new Promise<number>(() => undefined))],
    });
    const { jobId } = await first.start(
      tool(() => 1),
      {},
    );
    await expect.poll(async () => (await first.get(jobId)).steps.length).toBe(1);
    await first.close();
    await using second = await createAsyncTools({ store, tools: [tool(() => 2)] });
    await second.wait([jobId], { timeoutMs: 10_000 });
    expect(events(jobId).map((l) => l.msg)).toEqual(["job started", "job resumed", "job completed"]);
  });
});

describe("Resonate's own messages", () => {
  it("are debug lines unless they are real errors", async () => {
    const { resonateLogger } = await import("../src/runtime/runtime.ts");
    resonateLogger.error({ code: "99" }, "Server. Fence check failed. n/a. (See https://rn8.io/e/1199)");
    resonateLogger.warn({}, "executeUntilBlocked failed");
    expect(lines).toEqual([]);
    resonateLogger.error({ code: "08" }, "Encoding. Return value from function 'f' cannot be encoded");
    expect(JSON.parse(lines[0] ?? "")).toMatchObject({ level: "warn", source: "resonate" });
  });
});

import { inMemoryOtel } from "@async-tools/test-helpers/otel";
import { SpanStatusCode } from "@opentelemetry/api";
import type { DataPoint } from "@opentelemetry/sdk-metrics";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { defineAsyncTool } from "../define.ts";
import { PermanentError } from "../errors.ts";
import { createAsyncTools } from "./runtime.ts";
import { ATTR } from "./telemetry.ts";

const otel = inMemoryOtel();

async function counter(name: string): Promise<DataPoint<number>[]> {
  return ((await otel.metric(name))?.dataPoints ?? []) as DataPoint<number>[];
}

describe("OpenTelemetry", () => {
  it("traces each execution of a job and each step attempt inside it, with the job ID, tool and attempt", async () => {
    let calls = 0;
    const flaky = defineAsyncTool({
      name: "flaky",
      description: "Fails once",
      input: z.object({ n: z.number() }),
      retry: { attempts: 3, initialDelayMs: 5 },
      run: async (ctx, { n }) =>
        ctx.run("fetch", () => {
          calls += 1;
          if (calls === 1) throw new Error("503 Service Unavailable");
          return n;
        }),
    });
    await using runtime = await createAsyncTools({ store: "memory", tools: [flaky] });
    otel.reset();
    const job = await runtime.start(flaky, { n: 1 });
    await runtime.waitFor(flaky, job.jobId, 10_000);
    await expect.poll(() => otel.spans().some((s) => s.name === "async_tools.job flaky")).toBe(true);

    const finished = otel.spans();
    const execution = finished.find((s) => s.name === "async_tools.job flaky");
    expect(execution?.attributes).toMatchObject({
      [ATTR.tool]: "flaky",
      [ATTR.jobId]: job.jobId,
      [ATTR.resumed]: false,
    });
    expect(execution?.status.code).not.toBe(SpanStatusCode.ERROR);
    const steps = finished.filter((s) => s.name === "async_tools.step fetch");
    expect(steps.map((s) => s.attributes[ATTR.attempt])).toEqual([1, 2]);
    for (const step of steps) {
      expect(step.spanContext().traceId).toBe(execution?.spanContext().traceId);
      expect(step.parentSpanContext?.spanId).toBe(execution?.spanContext().spanId);
    }
    expect(steps[0]?.attributes).toMatchObject({
      [ATTR.jobId]: job.jobId,
      [ATTR.tool]: "flaky",
      [ATTR.step]: "fetch",
    });
    expect(steps[0]?.status).toMatchObject({
      code: SpanStatusCode.ERROR,
      message: "503 Service Unavailable",
    });
    expect(steps[1]?.status.code).not.toBe(SpanStatusCode.ERROR);
  });

  it("marks the execution of a failed job as an error", async () => {
    const broken = defineAsyncTool({
      name: "broken",
      description: "Fails",
      input: z.object({}),
      run: async (ctx) =>
        ctx.run("work", () => {
          throw new PermanentError("the archive refused the dates");
        }),
    });
    await using runtime = await createAsyncTools({ store: "memory", tools: [broken] });
    otel.reset();
    const job = await runtime.start(broken, {});
    await runtime.waitFor(broken, job.jobId, 10_000);
    await expect
      .poll(() => otel.span("async_tools.job broken")?.status)
      .toEqual({
        code: SpanStatusCode.ERROR,
        message: "the archive refused the dates",
      });
  });

  it("counts jobs by status and step retries", async () => {
    const hold = new Promise<never>(() => undefined);
    const mixed = defineAsyncTool({
      name: "mixed",
      description: "Completes, fails or waits",
      input: z.object({ outcome: z.enum(["ok", "fail", "wait"]) }),
      retry: { attempts: 2, initialDelayMs: 5 },
      run: async (ctx, { outcome }) =>
        ctx.run("work", () => {
          if (outcome === "fail") throw new PermanentError("no");
          if (outcome === "wait") return hold;
          return 1;
        }),
    });
    await using runtime = await createAsyncTools({ store: "memory", tools: [mixed] });
    const ok = await runtime.start(mixed, { outcome: "ok" });
    const fail = await runtime.start(mixed, { outcome: "fail" });
    const wait = await runtime.start(mixed, { outcome: "wait" });
    await runtime.wait([ok.jobId, fail.jobId], { timeoutMs: 10_000 });
    await runtime.cancel(wait.jobId);
    const byStatus = Object.fromEntries(
      (await counter("async_tools.jobs"))
        .filter((p) => p.attributes[ATTR.tool] === "mixed")
        .map((p) => [p.attributes[ATTR.status], p.value]),
    );
    expect(byStatus).toEqual({ started: 3, completed: 1, failed: 1, cancelled: 1 });
    const retries = await counter("async_tools.step.retries");
    expect(retries.find((p) => p.attributes[ATTR.tool] === "flaky")?.value).toBe(1);
  });
});

import { metrics, SpanStatusCode, trace } from "@opentelemetry/api";
import {
  AggregationTemporality,
  type DataPoint,
  MeterProvider,
  MetricReader,
  type SumMetricData,
} from "@opentelemetry/sdk-metrics";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { defineAsyncTool } from "../define.ts";
import { PermanentError } from "../errors.ts";
import { createAsyncTools } from "../runtime/runtime.ts";
import { connectInMemory } from "../testing/index.ts";
import { ATTR } from "./otel.ts";

/** A reader the test pulls from. */
class PullReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

const spans = new InMemorySpanExporter();
const reader = new PullReader();
beforeAll(() => {
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }),
  );
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
});
afterAll(() => {
  trace.disable();
  metrics.disable();
});

async function counter(name: string): Promise<DataPoint<number>[]> {
  const { resourceMetrics } = await reader.collect();
  const found = resourceMetrics.scopeMetrics
    .flatMap((s) => s.metrics)
    .find((m) => m.descriptor.name === name);
  return ((found as SumMetricData | undefined)?.dataPoints ?? []) as DataPoint<number>[];
}

describe("OpenTelemetry", () => {
  it("traces start, each step attempt and await, with the job ID, tool and attempt", async () => {
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
    spans.reset();
    const job = await runtime.start(flaky, { n: 1 });
    await runtime.waitFor(flaky, job.jobId, 10_000);

    const finished = spans.getFinishedSpans();
    const start = finished.find((s) => s.name === "async_tools.start");
    expect(start?.attributes).toMatchObject({
      [ATTR.tool]: "flaky",
      [ATTR.jobId]: job.jobId,
      [ATTR.created]: true,
    });
    const steps = finished.filter((s) => s.name === "async_tools.step fetch");
    expect(steps.map((s) => s.attributes[ATTR.attempt])).toEqual([1, 2]);
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
    const awaited = finished.find((s) => s.name === "async_tools.await");
    expect(awaited?.attributes).toMatchObject({
      [ATTR.jobIds]: [job.jobId],
      [ATTR.jobId]: job.jobId,
      [ATTR.tool]: "flaky",
      [ATTR.status]: ["completed"],
    });
  });

  it("traces starts and awaits that come through MCP tools too", async () => {
    const echo = defineAsyncTool({
      name: "echo",
      description: "Echoes",
      input: z.object({ n: z.number() }),
      run: async (ctx, { n }) => ctx.run("echo", () => n),
    });
    await using c = await connectInMemory([echo]);
    spans.reset();
    const started = await c.call("start_echo", { n: 3 });
    const jobId = (started.structuredContent as { job_id: string }).job_id;
    await c.call("await_echo", { job_ids: [jobId], timeout_seconds: 5 });
    const names = spans.getFinishedSpans().map((s) => [s.name, s.attributes[ATTR.jobId]]);
    expect(names).toContainEqual(["async_tools.start", jobId]);
    expect(names).toContainEqual(["async_tools.step echo", jobId]);
    expect(names).toContainEqual(["async_tools.await", jobId]);
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

import { inMemoryOtel } from "@async-tools/test-helpers/otel";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import type { DataPoint, Histogram } from "@opentelemetry/sdk-metrics";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { defineAsyncTool } from "../define.ts";
import { ATTR } from "../runtime/telemetry.ts";
import { connectInMemory } from "../testing/index.ts";
import { MCP_ATTR, OPERATION_DURATION } from "./telemetry.ts";

const otel = inMemoryOtel();

const CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN = "00f067aa0ba902b7";
const meta = { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`, tracestate: "rojo=00f067aa0ba902b7" };

const echo = defineAsyncTool({
  name: "echo",
  description: "Echoes",
  input: z.object({ n: z.number() }),
  run: async (ctx, { n }) => ctx.run("echo", () => n),
});

describe("MCP tool calls in OpenTelemetry's conventions", () => {
  it("continues the client's traceparent from _meta into the tool span, the job and its steps", async () => {
    await using c = await connectInMemory([echo]);
    const started = await c.client.callTool({ name: "start_echo", arguments: { n: 3 }, _meta: meta });
    const jobId = (started.structuredContent as { job_id: string }).job_id;
    await c.client.callTool({
      name: "await_echo",
      arguments: { job_ids: [jobId], timeout_seconds: 10 },
      _meta: meta,
    });
    await expect.poll(() => otel.span("async_tools.step echo") !== undefined).toBe(true);

    const start = otel.span("tools/call start_echo");
    expect(start?.kind).toBe(SpanKind.SERVER);
    expect(start?.spanContext().traceId).toBe(CLIENT_TRACE);
    expect(start?.parentSpanContext?.spanId).toBe(CLIENT_SPAN);
    expect(start?.spanContext().traceState?.get("rojo")).toBe("00f067aa0ba902b7");
    expect(start?.attributes).toMatchObject({
      [MCP_ATTR.method]: "tools/call",
      [MCP_ATTR.tool]: "start_echo",
      [MCP_ATTR.operation]: "execute_tool",
    });
    expect(start?.attributes[MCP_ATTR.requestId]).toMatch(/^\d+$/);
    expect(start?.attributes[MCP_ATTR.errorType]).toBeUndefined();

    // The job continues the start call's span, and its steps the job's execution.
    const job = otel.span("async_tools.job echo");
    expect(job?.spanContext().traceId).toBe(CLIENT_TRACE);
    expect(job?.parentSpanContext?.spanId).toBe(start?.spanContext().spanId);
    expect(job?.attributes[ATTR.jobId]).toBe(jobId);
    const step = otel.span("async_tools.step echo");
    expect(step?.spanContext().traceId).toBe(CLIENT_TRACE);
    expect(step?.parentSpanContext?.spanId).toBe(job?.spanContext().spanId);

    const awaited = otel.span("tools/call await_echo");
    expect(awaited?.spanContext().traceId).toBe(CLIENT_TRACE);
    expect(awaited?.attributes[MCP_ATTR.tool]).toBe("await_echo");
  });

  it("starts a new trace for a call without a valid traceparent", async () => {
    await using c = await connectInMemory([echo]);
    await c.client.callTool({
      name: "start_echo",
      arguments: { n: 4 },
      _meta: { traceparent: "00-00000000000000000000000000000000-00f067aa0ba902b7-01" },
    });
    const start = otel.span("tools/call start_echo");
    expect(start?.parentSpanContext).toBeUndefined();
    expect(start?.spanContext().traceId).not.toBe("00000000000000000000000000000000");
  });

  it("marks a call answered with isError as a tool_error and times every call", async () => {
    await using c = await connectInMemory([echo]);
    const result = await c.client.callTool({ name: "probe_echo", arguments: { job_ids: [] }, _meta: meta });
    expect(result.isError).toBe(true);
    const probe = otel.span("tools/call probe_echo");
    expect(probe?.attributes[MCP_ATTR.errorType]).toBe("tool_error");
    expect(probe?.status.code).toBe(SpanStatusCode.ERROR);

    const metric = await otel.metric(OPERATION_DURATION);
    expect(metric?.descriptor.unit).toBe("s");
    const points = (metric?.dataPoints ?? []) as DataPoint<Histogram>[];
    const failed = points.find((p) => p.attributes[MCP_ATTR.tool] === "probe_echo");
    expect(failed?.attributes).toMatchObject({
      [MCP_ATTR.method]: "tools/call",
      [MCP_ATTR.errorType]: "tool_error",
    });
    expect(failed?.value.count).toBe(1);
    // The request ID and session are the span's, never a metric's labels (unbounded).
    expect(failed?.attributes[MCP_ATTR.requestId]).toBeUndefined();
  });
});

/**
 * Tool calls in OpenTelemetry's semantic conventions for MCP: a `SERVER` span `tools/call <tool>` per call
 * whose parent is the trace context the client put in the request's `params._meta` (`traceparent`,
 * `tracestate`), and the `mcp.server.operation.duration` histogram. The call hands its trace on, so a job it
 * starts stores it and continues it. Without `@opentelemetry/api`, the client's trace context is handed on
 * as it came, so the job's log lines still carry the client's trace ID.
 */
import type * as OtelApi from "@opentelemetry/api";
import { contextFrom, loadOtelApi, meterCache, SCOPE, traceContextOfSpan } from "../internal/otel.ts";
import { traceContextOf } from "../internal/trace-context.ts";
import type { CallContext, ToolSpec } from "./tools/spec.ts";
import type { ToolResult } from "./wire.ts";

/** Attribute names of the conventions (semantic-conventions-genai, `docs/gen-ai/mcp.md`). */
export const MCP_ATTR = {
  method: "mcp.method.name",
  session: "mcp.session.id",
  requestId: "jsonrpc.request.id",
  tool: "gen_ai.tool.name",
  operation: "gen_ai.operation.name",
  errorType: "error.type",
  transport: "network.transport",
  protocol: "network.protocol.name",
} as const;

/** The duration histogram's name and its bucket bounds in seconds (the conventions' advice). */
export const OPERATION_DURATION = "mcp.server.operation.duration";
const DURATION_BUCKETS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300];

let durations: (() => OtelApi.Histogram) | undefined;

/**
 * Answers one `tools/call` with `spec`, traced: the span and the duration carry the method, the tool, the
 * request and session IDs, and `error.type` when the call failed (`tool_error` for an `isError` result, the
 * error's name when the handler threw).
 */
export async function callTool(
  spec: ToolSpec,
  args: Record<string, unknown>,
  call: CallContext,
): Promise<ToolResult> {
  const meta = call.request?.meta;
  const remote = traceContextOf(meta?.traceparent, meta?.tracestate);
  const api = await loadOtelApi();
  if (api === undefined) return spec.handler(args, remote === undefined ? call : { ...call, trace: remote });

  const attributes: OtelApi.Attributes = {
    [MCP_ATTR.method]: "tools/call",
    [MCP_ATTR.tool]: spec.name,
    [MCP_ATTR.operation]: "execute_tool",
  };
  if (call.request?.http === true) {
    attributes[MCP_ATTR.transport] = "tcp";
    attributes[MCP_ATTR.protocol] = "http";
  }
  const spanAttributes: OtelApi.Attributes = { ...attributes };
  if (call.request?.id !== undefined) spanAttributes[MCP_ATTR.requestId] = String(call.request.id);
  if (call.request?.sessionId !== undefined) spanAttributes[MCP_ATTR.session] = call.request.sessionId;

  durations ??= meterCache(api, (meter) =>
    meter.createHistogram(OPERATION_DURATION, {
      description:
        "MCP request duration as observed on the server, from its receipt until the result is sent",
      unit: "s",
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    }),
  );
  const record = durations;
  const began = performance.now();
  const parent = contextFrom(api, remote, api.context.active());
  const options = { kind: api.SpanKind.SERVER, attributes: spanAttributes };
  return api.trace
    .getTracer(SCOPE)
    .startActiveSpan(`tools/call ${spec.name}`, options, parent, async (span) => {
      let errorType: string | undefined;
      try {
        const result = await spec.handler(args, { ...call, trace: traceContextOfSpan(span) ?? remote });
        if (result.isError === true) {
          errorType = "tool_error";
          span.setStatus({ code: api.SpanStatusCode.ERROR, message: firstText(result) });
        }
        return result;
      } catch (error) {
        errorType = error instanceof Error ? error.name || "Error" : "_OTHER";
        span.recordException(error instanceof Error ? error : String(error));
        span.setStatus({
          code: api.SpanStatusCode.ERROR,
          message: error instanceof Error ? error.message : "",
        });
        throw error;
      } finally {
        if (errorType !== undefined) span.setAttribute(MCP_ATTR.errorType, errorType);
        span.end();
        const labels =
          errorType === undefined ? attributes : { ...attributes, [MCP_ATTR.errorType]: errorType };
        record().record((performance.now() - began) / 1000, labels);
      }
    });
}

function firstText(result: ToolResult): string {
  const first = result.content[0];
  return first !== undefined && first.type === "text" ? first.text : "";
}

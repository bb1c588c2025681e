/**
 * The OpenTelemetry API, when the application has `@opentelemetry/api` (an optional peer). It is loaded with
 * a dynamic import, once per process, so an application without it pays one failed resolution and nothing
 * after; with it but no SDK registered, the API's own no-ops apply.
 */
import type * as OtelApi from "@opentelemetry/api";
import { formatTraceparent, parseTraceparent, type TraceContext } from "./trace-context.ts";

export type Api = typeof OtelApi;

/** The instrumentation scope of every span and instrument of async-tools. */
export const SCOPE = "@async-tools/core";

let loading: Promise<Api | undefined> | undefined;

/** The OpenTelemetry API if the application installed it. */
export function loadOtelApi(): Promise<Api | undefined> {
  loading ??= import("@opentelemetry/api").then(
    (api) => api,
    () => undefined,
  );
  return loading;
}

/** An OpenTelemetry context whose (remote) parent is `trace`, on top of `base`; `base` without a valid one. */
export function contextFrom(
  api: Api,
  trace: TraceContext | undefined,
  base: OtelApi.Context,
): OtelApi.Context {
  const parent = parseTraceparent(trace?.traceparent);
  if (parent === undefined) return base;
  const spanContext: OtelApi.SpanContext = {
    traceId: parent.traceId,
    spanId: parent.spanId,
    traceFlags: parent.flags,
    isRemote: true,
  };
  if (trace?.tracestate !== undefined) spanContext.traceState = api.createTraceState(trace.tracestate);
  return api.trace.setSpanContext(base, spanContext);
}

/** The trace context a span hands on (a job stores it): its `traceparent` and `tracestate`. */
export function traceContextOfSpan(span: OtelApi.Span): TraceContext | undefined {
  const { traceId, spanId, traceFlags, traceState } = span.spanContext();
  if (parseTraceparent(`00-${traceId}-${spanId}-00`) === undefined) return undefined;
  const context: TraceContext = { traceparent: formatTraceparent({ traceId, spanId, flags: traceFlags }) };
  const state = traceState?.serialize();
  if (state !== undefined && state !== "") context.tracestate = state;
  return context;
}

/**
 * Instruments built by `build` on the global meter provider, built again when the provider changes: meters,
 * unlike the tracer, do not follow a provider registered after they were made.
 */
export function meterCache<T>(api: Api, build: (meter: OtelApi.Meter) => T): () => T {
  let provider: OtelApi.MeterProvider | undefined;
  let instruments: T | undefined;
  return () => {
    const current = api.metrics.getMeterProvider();
    if (instruments === undefined || current !== provider) {
      provider = current;
      instruments = build(current.getMeter(SCOPE));
    }
    return instruments;
  };
}

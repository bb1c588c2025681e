/**
 * A W3C Trace Context (`traceparent`, `tracestate`) as a plain value: what a caller hands in, what a job
 * stores with its durable promise, and what its log lines and spans continue after a restart. No
 * OpenTelemetry needed: the format is read and written here.
 */

/** The trace a job continues: a W3C `traceparent` and, when the caller sent one, its `tracestate`. */
export interface TraceContext {
  traceparent: string;
  tracestate?: string;
}

/** The parts of a valid `traceparent`. */
export interface TraceParent {
  traceId: string;
  spanId: string;
  /** The trace flags (bit 0: sampled). */
  flags: number;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * The parts of `value` when it is a valid `traceparent` (W3C Trace Context level 1: version 00, or a later
 * version read as 00; an all-zero trace or span ID is invalid), otherwise `undefined`.
 */
export function parseTraceparent(value: unknown): TraceParent | undefined {
  if (typeof value !== "string") return undefined;
  const m = TRACEPARENT.exec(value.trim());
  if (m === null) return undefined;
  const [, version, traceId = "", spanId = "", flags = "00", rest] = m;
  if (version === "ff" || (version === "00" && rest !== undefined)) return undefined;
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return { traceId, spanId, flags: Number.parseInt(flags, 16) };
}

/** `traceparent` for a span: version 00. */
export function formatTraceparent({ traceId, spanId, flags }: TraceParent): string {
  return `00-${traceId}-${spanId}-${(flags & 0xff).toString(16).padStart(2, "0")}`;
}

/** A trace context from raw values when the `traceparent` is valid (the `tracestate` only beside one). */
export function traceContextOf(traceparent: unknown, tracestate?: unknown): TraceContext | undefined {
  const parent = parseTraceparent(traceparent);
  if (parent === undefined) return undefined;
  const context: TraceContext = { traceparent: formatTraceparent(parent) };
  if (typeof tracestate === "string" && tracestate.trim() !== "") context.tracestate = tracestate.trim();
  return context;
}

/** The trace ID of `trace`, for log lines. */
export function traceIdOf(trace: TraceContext | undefined): string | undefined {
  return parseTraceparent(trace?.traceparent)?.traceId;
}

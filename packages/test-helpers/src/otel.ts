/**
 * An in-memory OpenTelemetry SDK for a test file: the global tracer and meter providers export to memory
 * while the file runs, and the test reads back the spans and metrics the code under test recorded.
 */
import { metrics, trace } from "@opentelemetry/api";
import {
  AggregationTemporality,
  MeterProvider,
  type MetricData,
  MetricReader,
} from "@opentelemetry/sdk-metrics";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, beforeEach } from "vitest";

/** A reader the test pulls from, with cumulative sums since the file began. */
class PullReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

/** What a test reads back from {@link inMemoryOtel}. */
export interface InMemoryOtel {
  /** The spans finished since the test began, or since the last {@link InMemoryOtel.reset}. */
  spans(): ReadableSpan[];
  /** Forgets the spans finished so far (done before each test too). */
  reset(): void;
  /** The finished span called `name`, if there is one. */
  span(name: string): ReadableSpan | undefined;
  /** The metric called `name` as recorded so far in this file, if any was. */
  metric(name: string): Promise<MetricData | undefined>;
}

/**
 * Registers in-memory global tracer and meter providers for the calling test file (from its first test to
 * its last), and empties the span list before each test.
 */
export function inMemoryOtel(): InMemoryOtel {
  const exporter = new InMemorySpanExporter();
  const reader = new PullReader();
  beforeAll(() => {
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    );
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  });
  afterAll(() => {
    trace.disable();
    metrics.disable();
  });
  beforeEach(() => exporter.reset());
  return {
    spans: () => exporter.getFinishedSpans(),
    reset: () => exporter.reset(),
    span: (name) => exporter.getFinishedSpans().find((s) => s.name === name),
    async metric(name) {
      const { resourceMetrics } = await reader.collect();
      return resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name);
    },
  };
}

/**
 * OpenTelemetry, when the application has `@opentelemetry/api` (an optional peer): a span for each start,
 * each step attempt and each await, and counters of jobs by status and of step retries. The API is loaded
 * with a dynamic import, once per process, so an application without it pays one failed resolution and
 * nothing after; with it but no SDK registered, the API's own no-ops apply.
 */
import type * as OtelApi from "@opentelemetry/api";
import type { JobEngine } from "../runtime/job-engine.ts";
import type { JobEvent, JobObserver, StepWatch } from "../runtime/job-events.ts";

type Api = typeof OtelApi;

/** Attribute names, in one place: they are part of what dashboards and alerts are built on. */
export const ATTR = {
  jobId: "async_tools.job.id",
  jobIds: "async_tools.job.ids",
  tool: "async_tools.tool",
  step: "async_tools.step",
  attempt: "async_tools.step.attempt",
  status: "async_tools.job.status",
  created: "async_tools.job.created",
  timeoutMs: "async_tools.await.timeout_ms",
} as const;

const SCOPE = "@async-tools/core";

/** Tracing and counting for one runtime; `undefined` when OpenTelemetry is not installed. */
export interface Telemetry extends Required<Pick<JobObserver, "onJob" | "step">> {
  /** Runs `fn` in a span named `name`; `done` adds attributes from its result. */
  span<T>(
    name: string,
    attributes: OtelApi.Attributes,
    fn: () => Promise<T>,
    done?: (value: T) => OtelApi.Attributes,
  ): Promise<T>;
}

let loading: Promise<Api | undefined> | undefined;

/** The OpenTelemetry API if the application installed it. */
function loadApi(): Promise<Api | undefined> {
  loading ??= import("@opentelemetry/api").then(
    (api) => api,
    () => undefined,
  );
  return loading;
}

/** The telemetry of a runtime, or `undefined` without `@opentelemetry/api`. */
export async function loadTelemetry(): Promise<Telemetry | undefined> {
  const api = await loadApi();
  return api === undefined ? undefined : telemetryFrom(api);
}

/** Builds the spans and counters over `api`. */
export function telemetryFrom(api: Api): Telemetry {
  // The tracer is a proxy that follows the provider registered later; meters are not, so they are looked
  // up again whenever the global provider changes.
  const tracer = api.trace.getTracer(SCOPE);
  let provider: OtelApi.MeterProvider | undefined;
  let counters: { jobs: OtelApi.Counter; retries: OtelApi.Counter } | undefined;
  const count = () => {
    const current = api.metrics.getMeterProvider();
    if (counters === undefined || current !== provider) {
      provider = current;
      const meter = current.getMeter(SCOPE);
      counters = {
        jobs: meter.createCounter("async_tools.jobs", {
          description: "Jobs by what happened to them: started, resumed, completed, failed, cancelled",
        }),
        retries: meter.createCounter("async_tools.step.retries", {
          description: "Step attempts that were retried",
        }),
      };
    }
    return counters;
  };

  async function span<T>(
    name: string,
    attributes: OtelApi.Attributes,
    fn: () => Promise<T>,
    done?: (value: T) => OtelApi.Attributes,
  ): Promise<T> {
    return tracer.startActiveSpan(name, { attributes }, async (s) => {
      try {
        const value = await fn();
        if (done) s.setAttributes(done(value));
        return value;
      } catch (error) {
        s.recordException(error as Error);
        s.setStatus({ code: api.SpanStatusCode.ERROR, message: (error as Error)?.message ?? String(error) });
        throw error;
      } finally {
        s.end();
      }
    });
  }

  return {
    span,
    onJob(event: JobEvent) {
      const tool = event.tool ?? "unknown";
      if (event.kind === "step-retried") {
        count().retries.add(1, { [ATTR.tool]: tool, [ATTR.step]: event.retry.step });
        return;
      }
      count().jobs.add(1, { [ATTR.tool]: tool, [ATTR.status]: event.kind });
    },
    step(jobId, tool, _stepId, name): StepWatch {
      let attempt = 0;
      return {
        attempt(fn) {
          attempt += 1;
          return span(
            `async_tools.step ${name}`,
            {
              [ATTR.jobId]: jobId,
              [ATTR.tool]: tool,
              [ATTR.step]: name,
              [ATTR.attempt]: attempt,
            },
            async () => fn(),
          );
        },
        retried() {},
      };
    },
  };
}

/**
 * Traces `engine.start` and `engine.wait`. Every face (MCP tools, tasks, the runtime's own methods) calls
 * these two on the engine, so wrapping them once covers every start and await, whoever asks.
 */
export function instrumentEngine(engine: JobEngine, telemetry: Telemetry): void {
  const start = engine.start.bind(engine);
  const wait = engine.wait.bind(engine);
  engine.start = (tool, input, options) =>
    telemetry.span(
      "async_tools.start",
      { [ATTR.tool]: tool.name },
      () => start(tool, input, options),
      (job) => ({ [ATTR.jobId]: job.jobId, [ATTR.created]: job.created, [ATTR.status]: job.status }),
    );
  engine.wait = (ids, timeoutMs, options) =>
    telemetry.span(
      "async_tools.await",
      { [ATTR.jobIds]: [...ids], [ATTR.timeoutMs]: timeoutMs },
      () => wait(ids, timeoutMs, options),
      (jobs) => ({
        [ATTR.status]: jobs.map((j) => j.status),
        ...(jobs.length === 1 && jobs[0]?.tool !== undefined
          ? { [ATTR.tool]: jobs[0].tool, [ATTR.jobId]: jobs[0].jobId }
          : {}),
      }),
    );
}

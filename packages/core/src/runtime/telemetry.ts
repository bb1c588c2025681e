/**
 * OpenTelemetry for jobs, as one more {@link JobObserver} beside the log and the step log: a span for each
 * execution of a job (a child of the trace the job was started in, also after a restart, from the context
 * stored with the job), a span for each step attempt inside it, and counters of jobs by status and of step
 * retries. Nothing here knows MCP; the MCP server spans are `mcp/telemetry.ts`'s.
 */
import type * as OtelApi from "@opentelemetry/api";
import {
  type Api,
  contextFrom,
  loadOtelApi,
  meterCache,
  SCOPE,
  traceContextOfSpan,
} from "../internal/otel.ts";
import type { JobObserver } from "./job-events.ts";

/** Attribute names, in one place: they are part of what dashboards and alerts are built on. */
export const ATTR = {
  jobId: "async_tools.job.id",
  tool: "async_tools.tool",
  step: "async_tools.step",
  attempt: "async_tools.step.attempt",
  status: "async_tools.job.status",
  resumed: "async_tools.job.resumed",
} as const;

/** The observer of a runtime, or `undefined` without `@opentelemetry/api`. */
export async function loadTelemetry(): Promise<JobObserver | undefined> {
  const api = await loadOtelApi();
  return api === undefined ? undefined : telemetryFrom(api);
}

/** Builds the spans and counters over `api`. */
export function telemetryFrom(api: Api): Required<JobObserver> {
  // The tracer is a proxy that follows the provider registered later; meters are looked up again whenever
  // the global provider changes.
  const tracer = api.trace.getTracer(SCOPE);
  const count = meterCache(api, (meter) => ({
    jobs: meter.createCounter("async_tools.jobs", {
      description: "Jobs by what happened to them: started, resumed, completed, failed, cancelled",
    }),
    retries: meter.createCounter("async_tools.step.retries", {
      description: "Step attempts that were retried",
    }),
  }));
  /** The span of each execution running in this process, the parent of its steps. */
  const executions = new Map<string, OtelApi.Span>();

  const fail = (span: OtelApi.Span, error: unknown) => {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({ code: api.SpanStatusCode.ERROR, message: errorMessage(error) });
  };

  return {
    onJob(event) {
      const tool = event.tool ?? "unknown";
      if (event.kind === "step-retried") {
        count().retries.add(1, { [ATTR.tool]: tool, [ATTR.step]: event.retry.step });
        return;
      }
      count().jobs.add(1, { [ATTR.tool]: tool, [ATTR.status]: event.kind });
    },
    execution({ jobId, tool, resumed, trace }) {
      const span = tracer.startSpan(
        `async_tools.job ${tool}`,
        { attributes: { [ATTR.jobId]: jobId, [ATTR.tool]: tool, [ATTR.resumed]: resumed } },
        contextFrom(api, trace, api.ROOT_CONTEXT),
      );
      executions.set(jobId, span);
      return {
        end(error) {
          if (error !== undefined) fail(span, error);
          span.end();
          if (executions.get(jobId) === span) executions.delete(jobId);
        },
      };
    },
    step(jobId, tool, _stepId, name) {
      const execution = executions.get(jobId);
      const parent =
        execution === undefined ? api.ROOT_CONTEXT : api.trace.setSpan(api.ROOT_CONTEXT, execution);
      let attempt = 0;
      return {
        attempt(fn) {
          attempt += 1;
          const attributes = {
            [ATTR.jobId]: jobId,
            [ATTR.tool]: tool,
            [ATTR.step]: name,
            [ATTR.attempt]: attempt,
          };
          return tracer.startActiveSpan(`async_tools.step ${name}`, { attributes }, parent, async (span) => {
            try {
              return await fn();
            } catch (error) {
              fail(span, error);
              throw error;
            } finally {
              span.end();
            }
          });
        },
        retried() {},
      };
    },
    activeTrace() {
      const span = api.trace.getActiveSpan();
      return span === undefined ? undefined : traceContextOfSpan(span);
    },
  };
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message || error.name : String(error);
}

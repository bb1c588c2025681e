/**
 * What happens to jobs, as events: the job engine emits them once, and they become log lines, step-log rows
 * and telemetry. Keeping one list of events here is what makes the logs consistent: every event has a job
 * ID and a tool, and the same names for the same facts.
 */
import { log } from "../internal/log.ts";
import { type TraceContext, traceIdOf } from "../internal/trace-context.ts";
import type { StepRetry } from "./step-retry.ts";

/** A change in a job's life. Durations are ms; `trace` is the trace the job continues, when it has one. */
export type JobEvent = (
  | { kind: "started"; jobId: string; tool: string }
  | { kind: "resumed"; jobId: string; tool: string }
  | { kind: "completed"; jobId: string; tool: string; durationMs: number }
  | { kind: "failed"; jobId: string; tool: string; error: string; durationMs?: number }
  | { kind: "cancelled"; jobId: string; tool: string | undefined; reason: string }
  | { kind: "step-retried"; jobId: string; tool: string; retry: StepRetry }
) & { trace?: TraceContext | undefined };

/** One execution of a job in this process: its first, or a resume after a restart or a takeover. */
export interface JobExecution {
  jobId: string;
  tool: string;
  resumed: boolean;
  /** The trace the job continues, stored with it when it was started. */
  trace?: TraceContext | undefined;
}

/** Follows one execution of a job. */
export interface ExecutionWatch {
  /** The execution ended: with the job's result, or with `error` (a failure, a cancel, a shutdown). */
  end(error?: unknown): void;
}

/** Follows the attempts of one execution of one step. */
export interface StepWatch {
  /** Runs one attempt, `fn`, recording its start and end. */
  attempt<T>(fn: () => T | Promise<T>): Promise<T>;
  /** The attempt that just failed will be retried. */
  retried(retry: StepRetry): void;
}

/** Hears of job events and watches executions and step attempts. */
export interface JobObserver {
  onJob?(event: JobEvent): void;
  /** Called when an execution of a job begins (before its first step), and told when it ends. */
  execution?(run: JobExecution): ExecutionWatch | undefined;
  /** Called when a step begins to execute (not when replay takes its stored result). */
  step?(jobId: string, tool: string, stepId: string, name: string): StepWatch | undefined;
  /** The trace a job started now continues when its caller names none: the current span's, if any. */
  activeTrace?(): TraceContext | undefined;
}

/** Writes one log line per event, with the same field names throughout. */
export function logJobEvent(event: JobEvent): void {
  const base = { job: event.jobId, tool: event.tool, trace: traceIdOf(event.trace) };
  switch (event.kind) {
    case "started":
      log("info", "job started", base);
      return;
    case "resumed":
      log("info", "job resumed", base);
      return;
    case "completed":
      log("info", "job completed", { ...base, durationMs: event.durationMs });
      return;
    case "failed":
      log("warn", "job failed", { ...base, error: event.error, durationMs: event.durationMs });
      return;
    case "cancelled":
      log("info", "job cancelled", { ...base, reason: event.reason });
      return;
    case "step-retried": {
      const { retry } = event;
      log("warn", "step retried", {
        ...base,
        step: retry.step,
        attempt: `${retry.attempt}/${retry.attempts}`,
        error: retry.error,
        nextInMs: Math.max(0, retry.nextAttemptAt - Date.now()),
      });
      return;
    }
  }
}

/** Observers combined: each hears every event; a failing observer costs its own record, never the job. */
export function combineObservers(observers: readonly JobObserver[]): Required<JobObserver> {
  const quietly = (what: string, fn: () => void) => {
    try {
      fn();
    } catch (error) {
      log("warn", `${what} not recorded`, { error });
    }
  };
  return {
    onJob(event) {
      for (const o of observers) if (o.onJob) quietly("job event", () => o.onJob?.(event));
    },
    execution(run) {
      const watches: ExecutionWatch[] = [];
      for (const o of observers) {
        quietly("job execution", () => {
          const watch = o.execution?.(run);
          if (watch) watches.push(watch);
        });
      }
      return {
        end(error) {
          for (const w of watches) quietly("job execution end", () => w.end(error));
        },
      };
    },
    activeTrace() {
      for (const o of observers) {
        let trace: TraceContext | undefined;
        quietly("active trace", () => {
          trace = o.activeTrace?.();
        });
        if (trace !== undefined) return trace;
      }
      return undefined;
    },
    step(jobId, tool, stepId, name) {
      const watches: StepWatch[] = [];
      for (const o of observers) {
        quietly("step", () => {
          const watch = o.step?.(jobId, tool, stepId, name);
          if (watch) watches.push(watch);
        });
      }
      if (watches.length === 0) return undefined;
      return {
        // Each watch wraps the next, so every observer sees the attempt start and end.
        attempt: <T>(fn: () => T | Promise<T>) =>
          watches.reduceRight<() => Promise<T>>(
            (inner, w) => () => w.attempt(inner),
            async () => fn(),
          )(),
        retried(retry) {
          for (const w of watches) quietly("step retry", () => w.retried(retry));
        },
      };
    },
  };
}

/**
 * The context a job's function gets (`ctx`): its ID and signal, durable steps with the definition's retry
 * policy (each attempt watched by the observers), durable sleep, and progress written to the job index.
 */
import { Never } from "@resonatehq/sdk";
import type { Context } from "@resonatehq/sdk/async";
import { DEFAULTS } from "../defaults.ts";
import type { AnyAsyncTool, JobContext } from "../define.ts";
import { log } from "../internal/log.ts";
import type { TraceContext } from "../internal/trace-context.ts";
import { type JobIndex, STEP_TAG } from "../store/store.ts";
import type { JobEvent, JobObserver } from "./job-events.ts";
import type { Pass } from "./local-jobs.ts";
import type { PromiseClient } from "./promise-client.ts";
import { questionContext } from "./questions.ts";
import { runWithRetries } from "./step-retry.ts";

/** What a job context needs of its engine. */
export interface JobContextDeps {
  readonly meta: JobIndex;
  readonly observer: Required<JobObserver>;
  readonly promises: PromiseClient;
  emit(event: JobEvent): void;
}

/**
 * The context of the execution `rctx` of a job of `tool`, which is `pass` in this process: it records there
 * the step being retried and whether the job asked.
 */
export function jobContextOf(
  rctx: Context,
  tool: AnyAsyncTool,
  pass: Pass,
  trace: TraceContext | undefined,
  engine: JobContextDeps,
): JobContext {
  const { meta } = engine;
  const { signal } = pass.controller;
  const jobId = rctx.id;
  const retryPolicy = new Never();
  return {
    ...questionContext(rctx, engine.promises, () => {
      pass.asked = true;
    }),
    jobId,
    signal,
    resonate: rctx,
    run<T>(name: string, fn: () => T | Promise<T>) {
      // Runs only when the step executes: replay takes a finished step's result without calling it.
      const attempt = async (step: { id: string }) => {
        const watch = engine.observer.step(jobId, tool.name, step.id, name);
        try {
          return await runWithRetries(name, watch ? () => watch.attempt(fn) : fn, tool.retry, {
            signal,
            onRetry: (retry) => {
              pass.retrying = retry;
              watch?.retried(retry);
              engine.emit({ kind: "step-retried", jobId, tool: tool.name, retry, trace });
            },
          });
        } finally {
          pass.retrying = undefined;
        }
      };
      const step = { [name]: attempt }[name] as (step: { id: string }) => Promise<T>;
      // The step's name on its promise: a Postgres store starts the step's attempt in the call that creates it.
      return rctx.run(step, rctx.options({ retryPolicy, tags: { [STEP_TAG]: name } })) as Promise<Awaited<T>>;
    },
    sleep(ms: number) {
      return rctx.sleep(ms);
    },
    progress(fraction: number, message?: string) {
      const clamped = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
      try {
        meta.progress(jobId, tool.name, clamped, message?.slice(0, DEFAULTS.maxMessageChars), Date.now());
      } catch (error) {
        // Progress is advice, not state: a store that cannot take it must not fail the job.
        log("warn", "progress not stored", { job: jobId, error });
      }
    },
  };
}

/**
 * Everything known about one job, for people: the snapshot faces show to models, plus the input it was
 * started with and the timeline of its steps from the step log. The CLI's `jobs show` and the dashboard's
 * job page are views of this.
 */
import { log } from "../internal/log.ts";
import type { StepAttemptOutcome, StepRecords } from "../store/store.ts";
import { PRINCIPAL_TAG } from "../store/store.ts";
import { type CallerScope, isUnfinished, type JobSnapshot } from "./job.ts";
import type { JobEngine } from "./job-engine.ts";
import type { StepWatch } from "./job-events.ts";
import type { PromiseClient } from "./promise-client.ts";
import { errorText } from "./step-retry.ts";

/** One attempt of a step. Times are ISO 8601. */
export interface JobStepAttempt {
  /** 1-based; keeps counting across restarts. */
  attempt: number;
  /** `interrupted`: the process running it stopped (a crash, a restart) before it ended. */
  outcome: StepAttemptOutcome;
  startedAt: string;
  endedAt?: string;
  durationMs?: number;
  error?: string;
  /** For a failed attempt that was retried: when the next one was due. */
  retryAt?: string;
}

/** One durable step of a job, as the step log saw it execute. */
export interface JobStep {
  name: string;
  /** The step's durable promise ID. */
  stepId: string;
  /** The outcome of its latest attempt. */
  status: StepAttemptOutcome;
  startedAt: string;
  endedAt?: string;
  attempts: JobStepAttempt[];
}

/** A job's snapshot (with its result) plus its input and step timeline. */
export interface JobDetail<R = unknown> extends JobSnapshot<R> {
  /** The principal the job belongs to, when an authenticated caller started it. */
  principal?: string;
  /** The input the job was started with, as validated; absent when the job is unknown or expired. */
  input?: unknown;
  /** Steps in the order they started. Steps finished before a restart keep their record. */
  steps: JobStep[];
}

/** Reads the detail of `id`. */
export async function readJobDetail(
  engine: JobEngine,
  promises: PromiseClient,
  steps: StepRecords,
  id: string,
  scope: CallerScope = {},
): Promise<JobDetail> {
  const [snapshot, found] = await Promise.all([engine.snapshot(id, true, scope), promises.get(id)]);
  // Another principal's job is not found, input and steps included.
  const record = snapshot.status === "not_found" ? undefined : found;
  const principal = record?.tags?.[PRINCIPAL_TAG];
  // Input right after the job's identity, so printed JSON reads in the order people look.
  const { jobId, status, tool, ...rest } = snapshot;
  const detail: JobDetail = {
    jobId,
    status,
    ...(tool === undefined ? {} : { tool }),
    ...(principal === undefined ? {} : { principal }),
    ...(record === undefined ? {} : { input: promises.args(record) }),
    ...rest,
    steps: [],
  };
  if (snapshot.status === "not_found") return detail;
  const live = isUnfinished(snapshot.status);
  detail.steps = (await steps.steps(id)).map((step) => {
    const attempts = step.attempts.map((a): JobStepAttempt => {
      // A job that ended while an attempt was still marked running: its process never saw it end.
      const outcome = a.outcome === "running" && !live ? "interrupted" : a.outcome;
      const out: JobStepAttempt = { attempt: a.attempt, outcome, startedAt: iso(a.startedAt) };
      if (a.endedAt !== undefined) {
        out.endedAt = iso(a.endedAt);
        out.durationMs = a.endedAt - a.startedAt;
      }
      if (a.error !== undefined) out.error = a.error;
      if (a.retryAt !== undefined) out.retryAt = iso(a.retryAt);
      return out;
    });
    const last = attempts.at(-1);
    const first = attempts[0];
    const out: JobStep = {
      name: step.name,
      stepId: step.stepId,
      status: last?.outcome ?? "running",
      startedAt: first?.startedAt ?? "",
      attempts,
    };
    if (last?.endedAt !== undefined) out.endedAt = last.endedAt;
    return out;
  });
  return detail;
}

/**
 * Records every step attempt in the step log. The log is advice, not state: a write that fails is logged
 * and the step runs on.
 */
export function stepLogWatch(steps: StepRecords, jobId: string, stepId: string, name: string): StepWatch {
  let current: number | undefined;
  const quietly = <T>(fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (error) {
      log("warn", "step attempt not recorded", { job: jobId, step: name, error });
      return undefined;
    }
  };
  return {
    async attempt(fn) {
      const attempt = await steps.begin(jobId, stepId, name, Date.now()).catch((error: unknown) => {
        log("warn", "step attempt not recorded", { job: jobId, step: name, error });
        return undefined;
      });
      current = attempt;
      try {
        const value = await fn();
        if (attempt !== undefined) quietly(() => steps.end(jobId, stepId, attempt, Date.now()));
        return value;
      } catch (error) {
        if (attempt !== undefined) {
          quietly(() => steps.end(jobId, stepId, attempt, Date.now(), errorText(error)));
        }
        throw error;
      }
    },
    retried(retry) {
      const attempt = current;
      if (attempt !== undefined) quietly(() => steps.retryAt(jobId, stepId, attempt, retry.nextAttemptAt));
    },
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

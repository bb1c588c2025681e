/**
 * The job model's types and the one mapping from a job's root durable promise (and what the job index and
 * this process know of it) to the snapshot probe, await and list report: status, times, progress, queue
 * place, retry, result or error.
 */
import type { JobError } from "../errors.ts";
import { type TraceContext, traceContextOf } from "../internal/trace-context.ts";
import type { Question } from "../question-types.ts";
import { type JobProgress, PRINCIPAL_TAG } from "../store/store.ts";
import type { PromiseRecord } from "./promise-client.ts";
import type { StepRetry } from "./step-retry.ts";

/**
 * A job's state. `queued`, `working` and `input_required` (waiting for the answer to a question) are
 * unfinished; the others are final or unknown.
 */
export type JobStatus = (typeof JOB_STATUSES)[number];

/** Every {@link JobStatus}, unfinished ones first. */
export const JOB_STATUSES = [
  "queued",
  "working",
  "input_required",
  "completed",
  "failed",
  "cancelled",
  "not_found",
  "expired",
] as const;

/** What probe and await report about one job; `R` is the result's type. Times are ISO 8601. */
export interface JobSnapshot<R = unknown> {
  jobId: string;
  status: JobStatus;
  /** The async tool (definition name) the job belongs to. */
  tool?: string;
  createdAt?: string;
  completedAt?: string;
  /** Latest progress reported by the job's function. */
  progress?: { fraction: number; message?: string; updatedAt: string };
  /** For a `queued` job: its 1-based place among the tool's waiting jobs in this process. */
  queuePosition?: number;
  /** For a working job whose step failed and will be tried again. */
  retrying?: { step: string; attempt: number; attempts: number; error: string; nextAttemptAt: string };
  /** For an `input_required` job: the questions it waits on, to answer with `answer`. */
  questions?: Question[];
  /** Why the job failed, was cancelled, or cannot be read: a code and its data, which the faces put in words. */
  error?: JobError;
  /** The result, for completed jobs, when asked for. */
  result?: R;
}

/** Which jobs `JobEngine.list` returns. */
export interface ListOptions {
  /** Only jobs of this async tool. */
  tool?: string;
  /** Only jobs in this status (or these). */
  status?: JobStatus | readonly JobStatus[];
  /** Only jobs started at or after this time: epoch ms or a Date. */
  since?: number | Date;
  /** The `next` of the previous page. */
  cursor?: number;
  /** Most jobs in the page. */
  limit?: number;
}

/** A job that `start` created or joined. */
export type StartedJob<R = unknown> = JobSnapshot<R> & { created: boolean };

/** Whether a job in `status` may still change. */
export function isUnfinished(status: JobStatus): boolean {
  return status === "queued" || status === "working" || status === "input_required";
}

/**
 * Who asks. With a principal (an authenticated caller), a job belongs to it: the principal is part of the
 * job's identity, and every read by another principal (or by none) answers `not_found`. Without one, there is
 * a single caller and job IDs are what they always were.
 */
export interface CallerScope {
  principal?: string;
  /** Every principal's jobs: the operator's view (the CLI, an operator's dashboard). Never from a client. */
  everyone?: boolean;
}

/** Options of `JobEngine.start`. */
export interface StartOptions extends CallerScope {
  /** Start a new run even when the last one finished. */
  fresh?: boolean;
  /** The trace the job continues (its caller's); without one, the active span's when OpenTelemetry runs. */
  trace?: TraceContext | undefined;
}

/** Options of `JobEngine.wait`. */
export interface WaitOptions extends CallerScope {
  signal?: AbortSignal;
  /** Called at once and then every `tickMs` while jobs are unfinished, with their current state. */
  onTick?: (snapshots: JobSnapshot[]) => void;
  tickMs?: number;
  /** The jobs as the caller read them already (with results), in the order of `ids`: not read again. */
  read?: readonly JobSnapshot[];
}

/** The promise tag naming the async tool of a job. */
export const TOOL_TAG = "async-tools:tool";
/** A random value per creation, which tells a promise this process made from one that was there already. */
export const RUN_TAG = "async-tools:run";
/** The W3C trace context a job continues (its caller's), stored so that a resume continues it too. */
export const TRACEPARENT_TAG = "async-tools:traceparent";
export const TRACESTATE_TAG = "async-tools:tracestate";

/** What a snapshot needs besides the promise: what this process and the job index know of the job. */
export interface SnapshotParts {
  /** The result or error value of a settled promise (decoded). */
  value: (record: PromiseRecord) => unknown;
  withResult: boolean;
  progress?: JobProgress | undefined;
  queuePosition?: number | undefined;
  retrying?: StepRetry | undefined;
  /** The open questions of a pending job. */
  questions?: Question[] | undefined;
}

/** The snapshot of the job whose root promise is `record`. */
export function snapshotOf(record: PromiseRecord, parts: SnapshotParts): JobSnapshot {
  const tool = record.tags?.[TOOL_TAG];
  const snapshot: JobSnapshot = { jobId: record.id, status: statusOf(record.state) };
  if (tool !== undefined) snapshot.tool = tool;
  if (record.createdAt !== undefined) snapshot.createdAt = iso(record.createdAt);
  if (record.state !== "pending" && record.settledAt !== undefined)
    snapshot.completedAt = iso(record.settledAt);
  const { progress, withResult } = parts;
  if (progress !== undefined) {
    snapshot.progress = {
      fraction: record.state === "resolved" ? 1 : progress.fraction,
      ...(progress.message !== undefined ? { message: progress.message } : {}),
      updatedAt: iso(progress.updatedAt),
    };
  }
  switch (record.state) {
    case "pending": {
      const place = parts.queuePosition;
      if (place !== undefined) {
        snapshot.status = "queued";
        snapshot.queuePosition = place;
      }
      const retry = parts.retrying;
      if (retry !== undefined) snapshot.retrying = { ...retry, nextAttemptAt: iso(retry.nextAttemptAt) };
      const questions = parts.questions ?? [];
      if (questions.length > 0) {
        snapshot.status = "input_required";
        snapshot.questions = questions;
        delete snapshot.queuePosition;
      }
      break;
    }
    case "resolved":
      if (withResult) snapshot.result = parts.value(record);
      break;
    case "rejected":
      snapshot.error = failureOf(parts.value(record));
      break;
    case "rejected_canceled": {
      const reason = parts.value(record);
      snapshot.error =
        typeof reason === "string" && reason !== "" ? { code: "cancelled", reason } : { code: "cancelled" };
      break;
    }
    case "rejected_timedout":
      snapshot.error = record.createdAt
        ? { code: "timed_out", timeoutMs: record.timeoutAt - record.createdAt }
        : { code: "timed_out" };
      break;
  }
  return snapshot;
}

/**
 * Whether the caller in `scope` may see the job `record` is: the same principal, or none on both sides; an
 * operator's scope sees every job.
 */
export function ownedBy(record: PromiseRecord, scope: CallerScope): boolean {
  return scope.everyone === true || record.tags?.[PRINCIPAL_TAG] === scope.principal;
}

/** The trace a job continues, from its promise's tags. */
export function traceOf(record: PromiseRecord | undefined): TraceContext | undefined {
  return traceContextOf(record?.tags?.[TRACEPARENT_TAG], record?.tags?.[TRACESTATE_TAG]);
}

/** Just the scope of `options` (no `principal: undefined`, for exactOptionalPropertyTypes). */
export function scopeOf(options: CallerScope): CallerScope {
  if (options.everyone === true) return { everyone: true };
  return options.principal === undefined ? {} : { principal: options.principal };
}

export function notFound(id: string): JobSnapshot {
  return { jobId: id, status: "not_found", error: { code: "not_found" } };
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function statusOf(state: PromiseRecord["state"]): JobStatus {
  switch (state) {
    case "pending":
      return "working";
    case "resolved":
      return "completed";
    case "rejected_canceled":
      return "cancelled";
    default:
      return "failed";
  }
}

/**
 * How the runtime fails a job for a reason of its own (`version_gone`, `input_mismatch`): the promise's
 * rejection value, which {@link failureOf} reads back as the code.
 */
export interface StoredJobError {
  __type: typeof STORED_ERROR;
  error: JobError;
}

const STORED_ERROR = "async_tools_job_error";

/** The rejection value that fails a job with `error`. */
export function storedJobError(error: JobError): StoredJobError {
  return { __type: STORED_ERROR, error };
}

/** Why a job whose promise was rejected with `value` failed. */
export function failureOf(value: unknown): JobError {
  if ((value as Partial<StoredJobError> | undefined)?.__type === STORED_ERROR)
    return (value as StoredJobError).error;
  if (value instanceof Error) return { code: "failed", message: value.message || value.name };
  if (typeof value === "string") return { code: "failed", message: value };
  if (value && typeof value === "object" && "message" in value)
    return { code: "failed", message: String(value.message) };
  if (value === undefined) return { code: "failed" };
  return { code: "failed", message: JSON.stringify(value) };
}

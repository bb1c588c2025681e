/**
 * The public root of @async-tools/core: define async tools, run them, and the errors and types around them.
 * Every name here is a deliberate API decision. The MCP faces live in subpaths (`/mcp-v1`), so this root needs
 * no MCP SDK at all.
 */

import "./internal/node-version.ts";

export {
  type AnyAsyncTool,
  type AsyncTool,
  type AsyncToolOptions,
  defineAsyncTool,
  type JobContext,
  jobIdOf,
  type RenderKit,
  type ResultView,
  type RetryOptions,
  type TaskSupport,
  type ToolNames,
} from "./define.ts";
export {
  type AnswerProblem,
  AsyncToolsError,
  type AsyncToolsErrorCode,
  type JobError,
  PermanentError,
  RetryableError,
  type RetryableErrorOptions,
} from "./errors.ts";
export {
  type Answer,
  type AnswerOutcome,
  type AskAnswer,
  type AskOptions,
  type ElicitationAnswer,
  type ElicitationRequest,
  type Question,
  type QuestionContext,
  type QuestionKind,
  type QuestionTimeout,
  QuestionTimeoutError,
  type RequestedSchema,
  type RootsAnswer,
  type SamplingAnswer,
  type SamplingRequest,
} from "./question-types.ts";
export type { JobSnapshot, JobStatus, ListOptions, StartedJob } from "./runtime/job.ts";
export type { JobDetail, JobStep, JobStepAttempt } from "./runtime/job-detail.ts";
export {
  type AsyncTools,
  type CallerOptions,
  type CreateAsyncToolsOptions,
  createAsyncTools,
  type StoreInfo,
  type WaitForJobsOptions,
} from "./runtime/runtime.ts";
export type { PostgresOptions } from "./store/postgres/postgres-store.ts";

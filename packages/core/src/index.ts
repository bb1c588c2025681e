/**
 * The public API of @async-tools/core. Every name here is a deliberate API decision.
 */

import "./internal/node-version.ts";

export {
  AsyncTools,
  type AsyncToolsServerOptions,
  type CreateAsyncToolsOptions,
  createAsyncTools,
} from "./create-async-tools.ts";
export {
  type AsyncTool,
  type AsyncToolOptions,
  defineAsyncTool,
  type JobContext,
  type RetryOptions,
  type ToolNames,
} from "./define-async-tool.ts";
export { AsyncToolsError, type AsyncToolsErrorCode, PermanentError } from "./errors.ts";
export { canonicalJson, defaultJobId } from "./job-id.ts";
export type { JobSnapshot, JobStatus } from "./jobs.ts";
export { createStdioTransport, type StdioTransportOptions } from "./stdio.ts";
export { defaultStorePath, parseStore, type StoreLocation } from "./store/select.ts";

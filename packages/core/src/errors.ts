/**
 * Errors for broken configuration and bugs. Expected states (unknown job, job still running, bad tool
 * arguments) are never thrown: they are tool results a model can act on.
 */

/** The machine-readable reason of an {@link AsyncToolsError}. */
export type AsyncToolsErrorCode =
  | "INVALID_STORE"
  | "STORE_UNREACHABLE"
  | "STORE_LOCKED"
  | "STORE_CORRUPT"
  | "STORE_SCHEMA"
  | "STORE_FORBIDDEN"
  | "STORE_IO"
  | "INVALID_DEFINITION"
  | "DUPLICATE_TOOL"
  | "UNKNOWN_TOOL"
  | "INVALID_CONFIG"
  | "CLOSED"
  | "SDK_MISMATCH"
  | "TOO_MANY_RUNS";

/**
 * Thrown for broken configuration (a malformed store URL, a store file that is not a database, a store
 * owned by another process) and for misuse of the API. The message says what to do about it.
 *
 * @example
 * ```ts
 * import { AsyncToolsError } from "@async-tools/core";
 * try {
 *   await createAsyncTools({ store: "ftp://nope" });
 * } catch (error) {
 *   if (error instanceof AsyncToolsError && error.code === "INVALID_STORE") console.error(error.message);
 * }
 * ```
 */
export class AsyncToolsError extends Error {
  override readonly name = "AsyncToolsError";
  readonly code: AsyncToolsErrorCode;

  constructor(code: AsyncToolsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/**
 * Why a job did not complete, or cannot be read: a code and its data, on `JobSnapshot.error`. The runtime
 * writes no sentence about it; each face puts it in words (the MCP tools in what a model reads, the CLI and
 * the dashboard in what people read).
 *
 * - `not_found`: no job has the ID (or it is another principal's).
 * - `expired`: the job finished long ago and the retention policy removed its result.
 * - `failed`: the job's function threw; `message` is its error's message, when it had one.
 * - `cancelled`: `reason` is what the cancel said.
 * - `timed_out`: the job ran past the tool's `timeoutMs` (when the store kept when it started).
 * - `version_gone`: the job was started by `version` of its tool, which no process registers any more;
 *   `versions` are the ones this process runs.
 * - `input_mismatch`: resumed, the job's stored input no longer matches `version` of its tool; `issues`
 *   say where.
 *
 * @example
 * ```ts
 * import type { JobError } from "@async-tools/core";
 * const why = (error: JobError) => (error.code === "failed" ? error.message : error.code);
 * ```
 */
export type JobError =
  | { code: "not_found" }
  | { code: "expired" }
  | { code: "failed"; message?: string }
  | { code: "cancelled"; reason?: string }
  | { code: "timed_out"; timeoutMs?: number }
  | { code: "version_gone"; version: number; versions: number[] }
  | { code: "input_mismatch"; version: number; issues: string[] };

/**
 * Throw this from inside a step to fail the job at once, without further retries: for errors that
 * waiting cannot fix, such as an upstream answering 400 to a bad request. Its message reaches the model.
 *
 * @example
 * ```ts
 * import { PermanentError } from "@async-tools/core";
 * if (response.status === 400) throw new PermanentError(`Open-Meteo refused the request: ${reason}`);
 * ```
 */
export class PermanentError extends Error {
  override readonly name = "PermanentError";
}

/** Options of {@link RetryableError}. */
export interface RetryableErrorOptions {
  /** How long to wait before the next attempt, in milliseconds. Wins over `retryAfter`. */
  retryAfterMs?: number | undefined;
  /**
   * When to try again, as the upstream said it: an HTTP `Retry-After` header value (delay-seconds such as
   * `"120"`, or an HTTP date) or a `Date`. A time already past retries at once; an unreadable value keeps the
   * policy's backoff, and so does `null` (what `headers.get("retry-after")` gives when there is none).
   */
  retryAfter?: string | Date | null | undefined;
  cause?: unknown;
}

/**
 * Throw this from inside a step when the upstream said when to try again (HTTP `Retry-After`): the next
 * attempt waits that long instead of the policy's backoff. It still counts as one of the tool's attempts.
 *
 * @example
 * ```ts
 * import { RetryableError } from "@async-tools/core";
 * const response = await fetch("https://api.example.com/report");
 * if (response.status === 429) {
 *   throw new RetryableError("rate limited", { retryAfter: response.headers.get("retry-after") });
 * }
 * ```
 */
export class RetryableError extends Error {
  override readonly name = "RetryableError";
  /** How long to wait before the next attempt, in ms; `undefined` keeps the policy's backoff. */
  readonly retryAfterMs: number | undefined;

  constructor(message: string, options: RetryableErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const after = options.retryAfterMs ?? delayOf(options.retryAfter);
    this.retryAfterMs = after !== undefined && Number.isFinite(after) && after >= 0 ? after : undefined;
  }
}

/** Milliseconds until a `Retry-After` value (delay-seconds or HTTP date) or a `Date`; past times give 0. */
function delayOf(value: string | Date | null | undefined): number | undefined {
  if (value === undefined || value === null) return undefined;
  // A number is delay-seconds (a negative one is unreadable), never a year for Date.parse.
  if (typeof value === "string" && /^\s*-?[\d.]+\s*$/.test(value)) {
    const seconds = Number(value);
    return seconds >= 0 ? seconds * 1000 : undefined;
  }
  const at = typeof value === "string" ? Date.parse(value) : value.getTime();
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/**
 * Why answers were refused, as a code with its data (each face words it: `answerProblemText` for people and
 * models). `no_answers`: none given. `not_asking`: the job is finished (`status`). `no_such_question`: the job
 * has no open question `questionId` (`open` lists those it has). `refused`: the question's form refuses the
 * answer (`issue` says why). `closed`: the question was answered or timed out meanwhile.
 */
export type AnswerProblem =
  | { code: "no_answers" }
  | { code: "not_asking"; status: string }
  | { code: "no_such_question"; questionId: string; open: string[] }
  | { code: "refused"; questionId: string; issue: string }
  | { code: "closed"; questionId: string };

/**
 * The MCP Tasks extension of protocol 2026-07-28 (SEP-2663, `io.modelcontextprotocol/tasks`) served over
 * durable jobs: a task is a job and the task ID the job ID, so a task outlives its request, its connection
 * and the process exactly like the job. Neither the v2 server SDK nor `@modelcontextprotocol/ext-tasks` has a
 * server side for it; this is ours. The wire shapes follow `@modelcontextprotocol/ext-tasks/core` (v2).
 */
import type { ServerContext } from "@modelcontextprotocol/server";
import {
  MissingRequiredClientCapabilityError,
  ProtocolError,
  ProtocolErrorCode,
} from "@modelcontextprotocol/server";
import { DEFAULTS } from "../../defaults.ts";
import type { AnyAsyncTool } from "../../define.ts";
import type { CallerScope, JobSnapshot } from "../../runtime/job.ts";
import type { JobEngine } from "../../runtime/job-engine.ts";
import { type JobTask, taskOf, toolResultOf } from "../tasks/job-task.ts";
import { answerProblemText } from "../text.ts";
import type { ToolResult } from "../wire.ts";
import { answersOf, inputRequestsOf } from "./input-requests.ts";

/** The extension's identifier, as servers advertise it and clients declare it. */
export const TASKS_EXTENSION = "io.modelcontextprotocol/tasks";

/** The envelope key under which a 2026-07-28 request carries its client capabilities. */
const CLIENT_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities";

/** The JSON-RPC error code of a failed task's `error`: the server could not turn the job into a result. */
const TASK_FAILED_CODE = ProtocolErrorCode.InternalError;

/** Whether `ctx` is a 2026-07-28 request, which always carries the per-request envelope. */
export function isModernRequest(ctx: ServerContext): boolean {
  return ctx.mcpReq.envelope !== undefined;
}

/** Whether the client declared the Tasks extension on this very request (capabilities are per request). */
export function requestSpeaksTasks(ctx: ServerContext): boolean {
  const envelope = ctx.mcpReq.envelope as Record<string, unknown> | undefined;
  const capabilities = envelope?.[CLIENT_CAPABILITIES] as
    | { extensions?: Record<string, unknown> }
    | undefined;
  return capabilities?.extensions?.[TASKS_EXTENSION] !== undefined;
}

/**
 * The -32021 error of a request that needs the extension but did not declare it, naming the extension in
 * `data.requiredCapabilities` as the extension's text shows.
 */
export function missingTasksCapability(
  message = `Missing required client capability: declare the ${TASKS_EXTENSION} extension in this request's client capabilities.`,
): MissingRequiredClientCapabilityError {
  return new MissingRequiredClientCapabilityError(
    { requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } },
    message,
  );
}

/** A task on the wire: the job's task plus the extension's retention and poll hint. */
type WireTask = JobTask & { ttlMs: number | null; pollIntervalMs: number };

/** Options of {@link ExtensionTasks}. */
export interface ExtensionTasksOptions {
  /** How long finished jobs are kept, reported as each task's `ttlMs` (`null` when kept for ever). */
  retentionMs: number;
  /** Suggested wait between two `tasks/get`. Default 1 s. */
  pollIntervalMs?: number;
}

/**
 * The extension's operations over one runtime's jobs, for the definitions that keep their task tool. Holds
 * nothing but the engine: every answer is read from the durable store.
 */
export class ExtensionTasks {
  private readonly engine: JobEngine;
  private readonly ttlMs: number | null;
  private readonly pollIntervalMs: number;
  private readonly callNames: ReadonlyMap<string, string>;

  /** `callNames`: the start tool of each definition, which a failed task's error points to. */
  constructor(engine: JobEngine, callNames: ReadonlyMap<string, string>, options: ExtensionTasksOptions) {
    this.engine = engine;
    this.callNames = callNames;
    this.ttlMs = Number.isFinite(options.retentionMs) ? Math.round(options.retentionMs) : null;
    this.pollIntervalMs = options.pollIntervalMs ?? DEFAULTS.taskPollIntervalMs;
  }

  /**
   * Starts (or joins) the job of `tool` for `input` and answers the `tools/call` with its task. `caller` (as
   * for every operation here) is the authenticated principal's scope: its tasks are its own jobs only.
   */
  async create(tool: AnyAsyncTool, input: Record<string, unknown>, fresh: boolean, caller: CallerScope = {}) {
    return this.created(await this.engine.start(tool, input, { fresh, ...caller }));
  }

  /**
   * The `CreateTaskResult` of a job: its task, with no `inputRequests` even when it waits for input (those
   * belong to `tasks/get`).
   */
  created(snapshot: JobSnapshot) {
    const task = this.wireTask(snapshot);
    if (task === undefined) {
      throw new ProtocolError(
        ProtocolErrorCode.InternalError,
        `Job ${snapshot.jobId} has no task after it started.`,
      );
    }
    return { resultType: "task" as const, ...task };
  }

  /**
   * `tasks/get`: the task, with the tool result once completed. A job that failed in its function (a
   * `PermanentError`, retries given up, a timeout) ran the tool, which reported an error: the task is
   * `completed` with an `isError` result, as the extension says (`failed` MUST NOT stand for a tool result
   * with `isError`). `failed` is kept for a finished job the server cannot turn into a result at all.
   */
  async get(taskId: string, caller: CallerScope = {}) {
    const snapshot = await this.engine.snapshot(taskId, true, caller);
    const tool = this.toolOf(snapshot);
    const task = tool === undefined ? undefined : this.wireTask(snapshot);
    if (tool === undefined || task === undefined) throw notFound(taskId);
    if (task.status === "input_required") {
      return { ...task, inputRequests: inputRequestsOf(snapshot.questions ?? [], taskId) };
    }
    if (task.status !== "completed") return task;
    let result: ToolResult;
    try {
      result = toolResultOf(snapshot, tool, this.callNames.get(tool.name) ?? tool.name);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      const message = `The outcome of job ${taskId} could not be read as a tool result: ${why}`;
      return {
        ...task,
        status: "failed" as const,
        error: { code: TASK_FAILED_CODE, message, data: { job_id: taskId } },
      };
    }
    // A result that breaks the output schema comes back as an isError tool result, still `completed`.
    return { ...task, result: { ...result, resultType: "complete" } };
  }

  /** `tasks/cancel`: cancels the job; a finished job stays as it is. Answered at once, as the spec allows. */
  async cancel(taskId: string, caller: CallerScope = {}): Promise<Record<string, never>> {
    await this.known(taskId, caller);
    await this.engine.cancel(taskId, "cancelled by the client (tasks/cancel)", caller);
    return {};
  }

  /**
   * `tasks/update`: delivers the `inputResponses` to the job's open questions, durably, and acknowledges once
   * they are stored (the job resumes on whichever process runs it). Responses to keys that are not
   * outstanding (never asked, answered already, a task no longer `input_required`) are ignored, as the
   * extension says a server SHOULD; some of several open questions may be answered now and the rest later,
   * and the task stays `input_required` until all are. An answer its question refuses (a form's schema)
   * delivers nothing and answers -32602 with the reason; an unknown task is -32602 too.
   */
  async update(
    taskId: string,
    inputResponses: Record<string, unknown>,
    caller: CallerScope = {},
  ): Promise<Record<string, never>> {
    const snapshot = await this.engine.snapshot(taskId, false, caller);
    if (this.toolOf(snapshot) === undefined || taskOf(snapshot) === undefined) throw notFound(taskId);
    const answers = answersOf(snapshot.questions ?? [], taskId, inputResponses);
    if (Object.keys(answers).length === 0) return {};
    const outcome = await this.engine.answer(taskId, answers, caller);
    if (outcome.status === "not_found") throw notFound(taskId);
    if (outcome.status === "invalid")
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, answerProblemText(taskId, outcome.problem));
    return {};
  }

  /** The store's change feed the tasks' jobs are followed on (see `Store.changes`); absent: poll. */
  get changes(): JobEngine["changes"] {
    return this.engine.changes;
  }

  private async known(taskId: string, caller: CallerScope): Promise<void> {
    const snapshot = await this.engine.snapshot(taskId, false, caller);
    if (this.toolOf(snapshot) === undefined || taskOf(snapshot) === undefined) throw notFound(taskId);
  }

  private toolOf(snapshot: JobSnapshot): AnyAsyncTool | undefined {
    const tool = snapshot.tool === undefined ? undefined : this.engine.definition(snapshot.tool);
    return tool?.toolNames.task === false ? undefined : tool;
  }

  /** The job as the extension's task: a job that failed in its function is `completed` (see {@link get}). */
  private wireTask(snapshot: JobSnapshot): WireTask | undefined {
    const task = taskOf(snapshot);
    if (task === undefined) return undefined;
    const status = task.status === "failed" ? "completed" : task.status;
    return { ...task, status, ttlMs: this.ttlMs, pollIntervalMs: this.pollIntervalMs };
  }
}

function notFound(taskId: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.InvalidParams, `Task not found: ${taskId}`);
}

/**
 * The MCP Tasks extension of protocol 2026-07-28 (SEP-2663, `io.modelcontextprotocol/tasks`) served over
 * durable jobs: a task is a job and the task ID the job ID, so a task outlives its request, its connection
 * and the process exactly like the job. Neither the v2 server SDK nor `@modelcontextprotocol/ext-tasks` has a
 * server side for it; this is ours. The wire shapes follow `@modelcontextprotocol/ext-tasks/core` (v2).
 */
import type { ServerContext } from "@modelcontextprotocol/server";
import { ProtocolError, ProtocolErrorCode } from "@modelcontextprotocol/server";
import { DEFAULTS } from "../../defaults.ts";
import type { AnyAsyncTool } from "../../define.ts";
import type { CallerScope, JobEngine, JobSnapshot } from "../../runtime/job-engine.ts";
import { isFinished, type JobTask, taskOf, toolResultOf } from "../tasks/job-task.ts";

/** The extension's identifier, as servers advertise it and clients declare it. */
export const TASKS_EXTENSION = "io.modelcontextprotocol/tasks";

/** The envelope key under which a 2026-07-28 request carries its client capabilities. */
const CLIENT_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities";

/** The JSON-RPC error code of a failed task's `error`: the job failed while running the tool call. */
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
    const started = await this.engine.start(tool, input, { fresh, ...caller });
    const task = this.wireTask(started);
    if (task === undefined) {
      throw new ProtocolError(
        ProtocolErrorCode.InternalError,
        `Job ${started.jobId} has no task after it started.`,
      );
    }
    return { resultType: "task" as const, ...task };
  }

  /** `tasks/get`: the task, with the tool result once completed or the error once failed. */
  async get(taskId: string, caller: CallerScope = {}) {
    const snapshot = await this.engine.snapshot(taskId, true, caller);
    const tool = this.toolOf(snapshot);
    const task = tool === undefined ? undefined : this.wireTask(snapshot);
    if (tool === undefined || task === undefined) throw notFound(taskId);
    if (!isFinished(snapshot.status) || task.status === "cancelled") return task;
    const result = toolResultOf(snapshot, tool, this.callNames.get(tool.name) ?? tool.name);
    if (task.status === "failed") {
      const message = result.content.map((c) => c.text).join("\n");
      return { ...task, error: { code: TASK_FAILED_CODE, message, data: { job_id: taskId } } };
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
   * `tasks/update`: a durable job never asks for input, so no task is ever `input_required` and there is
   * nothing to deliver. Acknowledged for a known task (the update may have crossed a status change, which
   * the extension allows), refused for an unknown one.
   */
  async update(taskId: string, caller: CallerScope = {}): Promise<Record<string, never>> {
    await this.known(taskId, caller);
    return {};
  }

  private async known(taskId: string, caller: CallerScope): Promise<void> {
    const snapshot = await this.engine.snapshot(taskId, false, caller);
    if (this.toolOf(snapshot) === undefined || taskOf(snapshot) === undefined) throw notFound(taskId);
  }

  private toolOf(snapshot: JobSnapshot): AnyAsyncTool | undefined {
    const tool = snapshot.tool === undefined ? undefined : this.engine.definition(snapshot.tool);
    return tool?.toolNames.task === false ? undefined : tool;
  }

  private wireTask(snapshot: JobSnapshot): WireTask | undefined {
    const task = taskOf(snapshot);
    return task === undefined
      ? undefined
      : { ...task, ttlMs: this.ttlMs, pollIntervalMs: this.pollIntervalMs };
  }
}

function notFound(taskId: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.InvalidParams, `Task not found: ${taskId}`);
}

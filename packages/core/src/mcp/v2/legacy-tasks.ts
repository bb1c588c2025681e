/**
 * MCP Tasks as protocol 2025-11-25 defines them (`tasks/get`, `tasks/result`, `tasks/list`, `tasks/cancel`,
 * task-augmented `tools/call`), served by the v2 face to clients that open with `initialize`. The v2 server
 * SDK keeps that era's wire codec but has no task store or task tools, so this is the v1 face's
 * `DurableTaskStore` mapping again, without the v1 SDK: a task is a job, the task ID the job ID.
 */
import { ProtocolError, ProtocolErrorCode } from "@modelcontextprotocol/server";
import { DEFAULTS } from "../../defaults.ts";
import type { AnyAsyncTool } from "../../define.ts";
import type { CallerScope, JobSnapshot } from "../../runtime/job.ts";
import type { JobEngine } from "../../runtime/job-engine.ts";
import { isFinished, type JobTask, taskOf, toolResultOf } from "../tasks/job-task.ts";
import type { ToolResult } from "../wire.ts";

/** The `tasks` capability of a 2025-11-25 server: list, cancel, and task-augmented `tools/call`. */
export const LEGACY_TASKS_CAPABILITY = { list: {}, cancel: {}, requests: { tools: { call: {} } } };

/** The `_meta` key that ties a `tasks/result` answer to its task. */
const RELATED_TASK = "io.modelcontextprotocol/related-task";

/** A 2025-11-25 task: the job's task plus `ttl` and `pollInterval`. */
export type LegacyTask = JobTask & { ttl: number | null; pollInterval: number };

/** Options of {@link LegacyTasks}. */
export interface LegacyTasksOptions {
  /** How long finished jobs are kept, reported as each task's `ttl` (`null` when kept for ever). */
  retentionMs: number;
  /** Suggested wait between two polls. Default 1 s. */
  pollIntervalMs?: number;
  /** Tasks per `tasks/list` page. Default 50. */
  pageSize?: number;
}

/** 2025-11-25 Tasks over one runtime's jobs, for the definitions that keep their task tool. */
export class LegacyTasks {
  private readonly engine: JobEngine;
  private readonly ttl: number | null;
  private readonly pollInterval: number;
  private readonly pageSize: number;
  private readonly callNames: ReadonlyMap<string, string>;

  /** `callNames`: the start tool of each definition, which a failed task's result points to. */
  constructor(engine: JobEngine, callNames: ReadonlyMap<string, string>, options: LegacyTasksOptions) {
    this.engine = engine;
    this.callNames = callNames;
    this.ttl = Number.isFinite(options.retentionMs) ? options.retentionMs : null;
    this.pollInterval = options.pollIntervalMs ?? DEFAULTS.taskPollIntervalMs;
    this.pageSize = options.pageSize ?? DEFAULTS.taskPageSize;
  }

  /** A task-augmented `tools/call`: starts or joins the job and answers with its task (`CreateTaskResult`). */
  async create(
    tool: AnyAsyncTool,
    input: Record<string, unknown>,
    fresh: boolean,
    caller: CallerScope = {},
  ): Promise<{ task: LegacyTask }> {
    const started = await this.engine.start(tool, input, { fresh, ...caller });
    const task = this.task(started);
    if (task === undefined) {
      throw new ProtocolError(
        ProtocolErrorCode.InternalError,
        `Job ${started.jobId} has no task after it started.`,
      );
    }
    return { task };
  }

  /** `tasks/get`. `caller` (as for every operation here) is the authenticated principal's scope. */
  async get(taskId: string, caller: CallerScope = {}): Promise<LegacyTask> {
    const snapshot = await this.engine.snapshot(taskId, false, caller);
    const task = this.toolOf(snapshot) === undefined ? undefined : this.task(snapshot);
    if (task === undefined) throw notFound(taskId);
    return task;
  }

  /** `tasks/result`: waits until the job is finished (or the request is cancelled), then its tool result. */
  async result(taskId: string, signal: AbortSignal, caller: CallerScope = {}): Promise<ToolResult> {
    await this.get(taskId, caller);
    let [snapshot] = await this.engine.wait([taskId], DEFAULTS.awaitMaxMs, { signal, ...caller });
    while (snapshot !== undefined && !isFinished(snapshot.status) && !signal.aborted) {
      [snapshot] = await this.engine.wait([taskId], DEFAULTS.awaitMaxMs, { signal, ...caller });
    }
    const tool = snapshot === undefined ? undefined : this.toolOf(snapshot);
    if (snapshot === undefined || tool === undefined || !isFinished(snapshot.status)) {
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `Task ${taskId} is still working; its result is not ready.`,
      );
    }
    const result = toolResultOf(snapshot, tool, this.callNames.get(tool.name) ?? tool.name);
    return { ...result, _meta: { [RELATED_TASK]: { taskId } } };
  }

  /** `tasks/cancel`: cancels the job; a task already finished cannot be cancelled, as the spec says. */
  async cancel(taskId: string, caller: CallerScope = {}): Promise<LegacyTask> {
    const task = await this.get(taskId, caller);
    if (task.status !== "working") {
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `Cannot cancel task ${taskId}: it is already in terminal status ${task.status}.`,
      );
    }
    await this.engine.cancel(taskId, "cancelled by the client (tasks/cancel)", caller);
    return this.get(taskId, caller);
  }

  /** `tasks/list`: tasks in start order; the cursor is opaque to clients (a position in the job metadata). */
  async list(
    cursor: string | undefined,
    caller: CallerScope = {},
  ): Promise<{ tasks: LegacyTask[]; nextCursor?: string }> {
    let after: number | undefined;
    if (cursor !== undefined) {
      if (!/^\d{1,15}$/.test(cursor))
        throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Invalid cursor: ${cursor}`);
      after = Number(cursor);
    }
    const tasks: LegacyTask[] = [];
    // Rows of other tools and of expired jobs are skipped, so one page may take several reads.
    while (tasks.length < this.pageSize) {
      const page = await this.engine.list({
        ...(after === undefined ? {} : { cursor: after }),
        limit: this.pageSize - tasks.length,
        ...caller,
      });
      for (const job of page.jobs) {
        const task = this.toolOf(job) === undefined ? undefined : this.task(job);
        if (task !== undefined) tasks.push(task);
      }
      after = page.next;
      if (after === undefined) break;
    }
    return { tasks, ...(after === undefined ? {} : { nextCursor: String(after) }) };
  }

  private toolOf(snapshot: JobSnapshot): AnyAsyncTool | undefined {
    const tool = snapshot.tool === undefined ? undefined : this.engine.definition(snapshot.tool);
    return tool?.toolNames.task === false ? undefined : tool;
  }

  private task(snapshot: JobSnapshot): LegacyTask | undefined {
    const task = taskOf(snapshot);
    return task === undefined ? undefined : { ...task, ttl: this.ttl, pollInterval: this.pollInterval };
  }
}

function notFound(taskId: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.InvalidParams, `Task not found: ${taskId}`);
}

/**
 * The MCP `TaskStore` (Tasks, spec 2025-11-25) over durable jobs: a task is a job, the task ID the job ID,
 * the task's state and result the job's durable promise. Nothing is held in memory, so a task survives a
 * restart of the server exactly like the job does.
 */
import type { CreateTaskOptions, TaskStore } from "@modelcontextprotocol/sdk/experimental/tasks";
import { type CallToolResult, ErrorCode, McpError, type Task } from "@modelcontextprotocol/sdk/types.js";
import { DEFAULTS } from "../../defaults.ts";
import type { CallerScope } from "../../runtime/job.ts";
import type { JobEngine } from "../../runtime/job-engine.ts";
import { currentPrincipal } from "../principal.ts";
import { isFinished, taskOf, toolResultOf } from "../tasks/job-task.ts";

/** The key of `CreateTaskOptions.context` that names the job a new task is. */
export const JOB_ID_CONTEXT = "async-tools:job-id";

/** Options of {@link DurableTaskStore}. */
export interface DurableTaskStoreOptions {
  /** How long finished jobs are kept, reported to clients as each task's `ttl`. */
  retentionMs: number;
  /** Suggested wait between two polls of a task. Default 1 s. */
  pollIntervalMs?: number;
  /** Tasks per `tasks/list` page. Default 50. */
  pageSize?: number;
}

/**
 * Tasks over the jobs of one runtime, for the definitions that keep their task tool (`toolNames.task`).
 *
 * Tasks are not bound to a session, unlike the SDK's in-memory store: a job outlives its session (and the
 * process), can be joined by anyone with the same arguments, and is already readable by ID through the
 * probe tool. Tasks are bound to the caller's principal instead (the request's authenticated caller, see
 * `principalOf`): another principal's task is not found, and `tasks/list` lists the caller's own. The requested `ttl` is not honoured per task: the store's retention applies to every job, and
 * is what `ttl` reports (a lower bound: retention counts from the end of the job, not its creation).
 */
export class DurableTaskStore implements TaskStore {
  private readonly engine: JobEngine;
  private readonly ttl: number | null;
  private readonly pollInterval: number;
  private readonly pageSize: number;
  /** The name a plain client calls to run a tool's job again, per definition (its start tool). */
  readonly callNames = new Map<string, string>();

  constructor(engine: JobEngine, options: DurableTaskStoreOptions) {
    this.engine = engine;
    this.ttl = Number.isFinite(options.retentionMs) ? options.retentionMs : null;
    this.pollInterval = options.pollIntervalMs ?? DEFAULTS.taskPollIntervalMs;
    this.pageSize = options.pageSize ?? DEFAULTS.taskPageSize;
  }

  /**
   * Returns the task of a job already started (or joined) by the task tool, named by
   * `context["async-tools:job-id"]`: the job ID is deterministic, so this never makes up an ID.
   */
  async createTask(params: CreateTaskOptions): Promise<Task> {
    const jobId = params.context?.[JOB_ID_CONTEXT];
    if (typeof jobId !== "string") {
      throw new Error(
        `DurableTaskStore only creates tasks for jobs an async tool started: pass the job ID as context["${JOB_ID_CONTEXT}"].`,
      );
    }
    const task = await this.getTask(jobId);
    if (task === null)
      throw new McpError(ErrorCode.InternalError, `Job ${jobId} was not found after it started.`);
    return task;
  }

  async getTask(taskId: string): Promise<Task | null> {
    const snapshot = await this.engine.snapshot(taskId, false, caller());
    if (!this.exposes(snapshot.tool)) return null;
    const task = taskOf(snapshot);
    return task === undefined ? null : { ...task, ttl: this.ttl, pollInterval: this.pollInterval };
  }

  /** Never needed: a job stores its own result in its durable promise. */
  async storeTaskResult(taskId: string): Promise<void> {
    throw new Error(
      `Task ${taskId} is a durable job: its result is stored by the job itself, not by storeTaskResult.`,
    );
  }

  async getTaskResult(taskId: string): Promise<CallToolResult> {
    const snapshot = await this.engine.snapshot(taskId, true, caller());
    const tool = snapshot.tool === undefined ? undefined : this.engine.definition(snapshot.tool);
    if (tool === undefined || !this.exposes(tool.name) || taskOf(snapshot) === undefined) {
      throw new McpError(ErrorCode.InvalidParams, `Task not found: ${taskId}`);
    }
    if (!isFinished(snapshot.status)) {
      throw new McpError(
        ErrorCode.InvalidParams,
        `Task ${taskId} is still working; its result is not ready.`,
      );
    }
    return toolResultOf(snapshot, tool, this.callNames.get(tool.name) ?? tool.name) as CallToolResult;
  }

  /** Cancels the job on `cancelled`; any other status is the job's own to set. */
  async updateTaskStatus(taskId: string, status: Task["status"], statusMessage?: string): Promise<void> {
    if (status !== "cancelled") {
      throw new McpError(
        ErrorCode.InvalidParams,
        `Task ${taskId} follows its durable job: it can be cancelled, but not set to ${status}.`,
      );
    }
    if ((await this.getTask(taskId)) === null) {
      throw new McpError(ErrorCode.InvalidParams, `Task not found: ${taskId}`);
    }
    await this.engine.cancel(taskId, statusMessage, caller());
  }

  /** Tasks in start order; the cursor is opaque to clients (a position in the job metadata). */
  async listTasks(cursor?: string): Promise<{ tasks: Task[]; nextCursor?: string }> {
    let after: number | undefined;
    if (cursor !== undefined) {
      if (!/^\d{1,15}$/.test(cursor))
        throw new McpError(ErrorCode.InvalidParams, `Invalid cursor: ${cursor}`);
      after = Number(cursor);
    }
    const tasks: Task[] = [];
    // Rows of other tools and of expired jobs are skipped, so one page may take several reads.
    while (tasks.length < this.pageSize) {
      const page = await this.engine.list({
        ...(after === undefined ? {} : { cursor: after }),
        limit: this.pageSize - tasks.length,
        ...caller(),
      });
      for (const job of page.jobs) {
        const task = this.exposes(job.tool) ? taskOf(job) : undefined;
        if (task !== undefined) tasks.push({ ...task, ttl: this.ttl, pollInterval: this.pollInterval });
      }
      after = page.next;
      if (after === undefined) break;
    }
    return { tasks, ...(after === undefined ? {} : { nextCursor: String(after) }) };
  }

  private exposes(tool: string | undefined): boolean {
    return tool !== undefined && this.engine.definition(tool)?.toolNames.task !== false;
  }
}

/** The caller the SDK is answering (it passes the task store no auth info; the v1 face records it). */
function caller(): CallerScope {
  const principal = currentPrincipal();
  return principal === undefined ? {} : { principal };
}

/**
 * How a durable job reads as an MCP task: its status, status message and timestamps, and the tool result a
 * finished job stands for. Independent of the Tasks protocol generation (2025-11-25 `tasks/*` or the
 * 2026-07-28 extension), so each face reuses it.
 */
import type { AnyAsyncTool } from "../../define.ts";
import type { JobSnapshot, JobStatus } from "../../runtime/job.ts";
import { errorText, statusMessageOf } from "../text.ts";
import { fail, type ToolResult } from "../wire.ts";

/** Task statuses shared by both Tasks generations. */
export type TaskStatus = "working" | "input_required" | "completed" | "failed" | "cancelled";

/** A job as a task, before a generation adds its own fields (ttl, pollInterval, their names). */
export interface JobTask {
  taskId: string;
  status: TaskStatus;
  statusMessage?: string;
  createdAt: string;
  lastUpdatedAt: string;
}

/** Job statuses that have a task; `not_found` and `expired` jobs have none. */
const TASK_STATUS: Partial<Record<JobStatus, TaskStatus>> = {
  queued: "working",
  working: "working",
  input_required: "input_required",
  completed: "completed",
  failed: "failed",
  cancelled: "cancelled",
};

/** Whether a job in `status` is done for good, as a task. */
export function isFinished(status: JobStatus): boolean {
  return status === "completed" || status === "failed" || status === "cancelled";
}

/** The task a job is, or `undefined` for a job that does not exist (any more). */
export function taskOf(snapshot: JobSnapshot): JobTask | undefined {
  const status = TASK_STATUS[snapshot.status];
  if (status === undefined) return undefined;
  const createdAt = snapshot.createdAt ?? new Date().toISOString();
  const task: JobTask = {
    taskId: snapshot.jobId,
    status,
    createdAt,
    lastUpdatedAt: snapshot.completedAt ?? snapshot.progress?.updatedAt ?? createdAt,
  };
  const message = statusMessageOf(snapshot);
  if (message !== undefined) task.statusMessage = message;
  return task;
}

/**
 * The result of the tool call a finished job stands for: the job's result, checked against the tool's
 * output schema, or an `isError` result that says what happened and how to run it again. `snapshot` must
 * carry the result (`engine.snapshot(id, true)`) and be finished.
 */
export function toolResultOf(snapshot: JobSnapshot, tool: AnyAsyncTool, callName: string): ToolResult {
  const id = snapshot.jobId;
  if (snapshot.status === "failed") {
    return fail(
      `Job ${id} failed: ${errorText(snapshot)}. Call ${callName} again with fresh: true to retry.`,
    );
  }
  if (snapshot.status === "cancelled") {
    return fail(
      `Job ${id} was cancelled (${errorText(snapshot)}). Call ${callName} again with the same arguments to run it afresh.`,
    );
  }
  const value = snapshot.result ?? null;
  if (tool.output !== undefined) {
    const checked = tool.output.safeParse(value);
    if (!checked.success) {
      const issues = checked.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
      return fail(
        `The result of job ${id} does not match the output schema of ${tool.name}: ${issues.join("; ")}`,
      );
    }
  }
  return {
    content: [{ type: "text", text: JSON.stringify(value) }],
    // structuredContent must be an object; other results travel as text only.
    ...(isRecord(value) ? { structuredContent: value } : {}),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * How a durable job reads as an MCP task: its status, status message and timestamps, and the tool result a
 * finished job stands for. Independent of any one Tasks protocol generation, so each can reuse it.
 */
import type { CallToolResult, Task } from "@modelcontextprotocol/sdk/types.js";
import type { z } from "zod";
import type { AsyncTool } from "../define-async-tool.ts";
import type { JobSnapshot, JobStatus } from "../jobs.ts";

type AnyTool = AsyncTool<z.ZodObject, unknown>;

/** What every task of a store reports besides the job's own state. */
export interface TaskTiming {
  /** Milliseconds a finished task stays retrievable; `null` when kept forever. */
  ttl: number | null;
  /** Milliseconds a client should wait between two polls. */
  pollInterval: number;
}

/** Job statuses that have a task; `not_found` and `expired` jobs have none. */
const TASK_STATUS: Partial<Record<JobStatus, Task["status"]>> = {
  working: "working",
  completed: "completed",
  failed: "failed",
  cancelled: "cancelled",
};

/** Whether a job in `status` is done for good, as a task. */
export function isFinished(status: JobStatus): boolean {
  return status === "completed" || status === "failed" || status === "cancelled";
}

/** The task a job is, or `undefined` for a job that does not exist (any more). */
export function taskOf(snapshot: JobSnapshot, timing: TaskTiming): Task | undefined {
  const status = TASK_STATUS[snapshot.status];
  if (status === undefined) return undefined;
  const createdAt = snapshot.created_at ?? new Date().toISOString();
  const task: Task = {
    taskId: snapshot.job_id,
    status,
    ttl: timing.ttl,
    createdAt,
    lastUpdatedAt: snapshot.completed_at ?? snapshot.progress?.updated_at ?? createdAt,
    pollInterval: timing.pollInterval,
  };
  const message = statusMessageOf(snapshot);
  if (message !== undefined) task.statusMessage = message;
  return task;
}

function statusMessageOf(snapshot: JobSnapshot): string | undefined {
  if (snapshot.status !== "working") return snapshot.error;
  const progress = snapshot.progress;
  if (progress === undefined) return undefined;
  const percent = `${Math.round(progress.fraction * 100)}%`;
  return progress.message ? `${progress.message} (${percent})` : percent;
}

/**
 * The result of the tool call a finished job stands for: the job's result, checked against the tool's
 * output schema, or an `isError` result that says what happened and how to run it again. `snapshot` must
 * carry the result (`engine.snapshot(id, true)`) and be finished.
 */
export function toolResultOf(snapshot: JobSnapshot, tool: AnyTool): CallToolResult {
  const id = snapshot.job_id;
  if (snapshot.status === "failed") {
    return failure(`Job ${id} failed: ${snapshot.error}. Call ${tool.name} again with fresh: true to retry.`);
  }
  if (snapshot.status === "cancelled") {
    return failure(
      `Job ${id} was cancelled (${snapshot.error}). Call ${tool.name} again with the same arguments to run it afresh.`,
    );
  }
  const value = snapshot.result ?? null;
  if (tool.output !== undefined) {
    const checked = tool.output.safeParse(value);
    if (!checked.success) {
      const issues = checked.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
      return failure(
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

function failure(text: string): CallToolResult {
  return { content: [{ type: "text", text }], isError: true };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

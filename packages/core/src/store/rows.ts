/**
 * Rows of the job index and the step log from stored rows: the same snake_case columns in the SQLite file and
 * in Postgres, so both backends map them here.
 */
import type { JobMetaRow, StepAttemptOutcome, StepAttemptRow, StepRow } from "./store.ts";

/** A job row from a stored row (snake_case columns). */
export function toRow(row: Record<string, unknown>): JobMetaRow {
  const result: JobMetaRow = {
    id: String(row.id),
    tool: String(row.tool),
    createdAt: Number(row.created_at),
  };
  if (row.progress !== null && row.progress !== undefined) {
    result.progress = {
      fraction: Number(row.progress),
      updatedAt: Number(row.progress_at),
      ...(typeof row.message === "string" ? { message: row.message } : {}),
    };
  }
  return result;
}

/** Step rows from stored attempt rows (snake_case columns, in start order), grouped by step. */
export function stepRowsOf(raws: Record<string, unknown>[]): StepRow[] {
  const steps = new Map<string, StepRow>();
  for (const raw of raws) {
    const stepId = String(raw.step_id);
    let step = steps.get(stepId);
    if (step === undefined) {
      step = { stepId, name: String(raw.name), attempts: [] };
      steps.set(stepId, step);
    }
    const attempt: StepAttemptRow = {
      attempt: Number(raw.attempt),
      outcome: String(raw.outcome) as StepAttemptOutcome,
      startedAt: Number(raw.started_at),
    };
    if (raw.ended_at !== null && raw.ended_at !== undefined) attempt.endedAt = Number(raw.ended_at);
    if (typeof raw.error === "string") attempt.error = raw.error;
    if (raw.retry_at !== null && raw.retry_at !== undefined) attempt.retryAt = Number(raw.retry_at);
    step.attempts.push(attempt);
  }
  return [...steps.values()];
}

/**
 * The rows of the dashboard's table: the newest jobs that match its filters and that the caller may see. The
 * job index is read from the newest back, from the start of the time window, one table at a time, so a poll
 * costs about as many reads as the table has rows, however large the store.
 */
import type { JobDetail } from "../runtime/job-detail.ts";
import { type AsyncTools, internalsOf, OPERATOR } from "../runtime/runtime.ts";
import { type JobRow, type ListFilters, STATUSES, WINDOWS } from "./html.ts";

/** How {@link jobRows} reads. */
export interface JobRowsOptions {
  /** Most rows. */
  maxRows: number;
  /** Whether the caller may see `job`. */
  visible(job: JobDetail): boolean;
  /**
   * Only this principal's rows of the index (and rows that predate principals); `undefined` reads every
   * principal's and leaves the choice to `visible`.
   */
  principal?: string;
  now: number;
}

const KNOWN = new Set<string>(STATUSES);

/** The newest jobs matching `filters` that `options.visible` lets through, newest first. */
export async function jobRows(
  runtime: AsyncTools,
  filters: ListFilters,
  options: JobRowsOptions,
): Promise<JobRow[]> {
  const window = WINDOWS.find(([v]) => v === (filters.since ?? "24h"))?.[2] ?? Number.POSITIVE_INFINITY;
  const status = filters.status !== undefined && KNOWN.has(filters.status) ? filters.status : undefined;
  const { meta, engine } = internalsOf(runtime);
  const shown: JobRow[] = [];
  let cursor: number | undefined;
  do {
    const page = await meta.list({
      order: "newest",
      limit: options.maxRows,
      ...(Number.isFinite(window) ? { since: options.now - window } : {}),
      ...(filters.tool ? { tool: filters.tool } : {}),
      ...(options.principal === undefined ? {} : { principal: options.principal }),
      ...(cursor === undefined ? {} : { cursor }),
    });
    for (const row of page.rows) {
      if (shown.length >= options.maxRows) break;
      // The status alone is cheaper to read than the whole job (its step log), so a filter reads it first.
      if (
        status !== undefined &&
        (await engine.snapshot(row.id, false, { everyone: true })).status !== status
      )
        continue;
      const detail = await runtime.get(row.id, OPERATOR);
      if (detail.status === "not_found" || (status !== undefined && detail.status !== status)) continue;
      if (!options.visible(detail)) continue;
      const attempts = detail.steps.reduce((n, step) => n + step.attempts.length, 0);
      const { input, steps: _steps, result: _result, ...job } = detail;
      shown.push({ job, input, attempts });
    }
    cursor = page.next;
  } while (cursor !== undefined && shown.length < options.maxRows);
  return shown;
}

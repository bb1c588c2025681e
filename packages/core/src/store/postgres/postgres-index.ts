/**
 * The job index and the step log of a Postgres store, in the `async_tools` schema beside Resonate's (migration
 * 0002), so every replica, the CLI and the dashboard see every job, its progress and its steps. Writes go one
 * after another on a small pool of our own, off the caller's path; reads wait for the writes sent before them,
 * so a process reads its own writes. Progress is written at most once per `progressMs` per job (the newest
 * value wins; a read in this process sees the newest at once) and announced with NOTIFY. A step's attempt is
 * started by the create of its promise and a successful one ended by its settle, in the same calls
 * ({@link StepCheckpoints}); the step log writes on its own only what those did not carry.
 */
import { log } from "../../internal/log.ts";
import { stepRowsOf, toRow } from "../rows.ts";
import type {
  JobIndex,
  JobListOptions,
  JobMetaRow,
  JobPage,
  SettledJob,
  StepAttemptOutcome,
  StepRecords,
  StepRow,
} from "../store.ts";
import type { Queryable } from "./schema.ts";
import type { StepCheckpoints } from "./step-checkpoints.ts";

/** The NOTIFY channel a progress write announces itself on, with the job ID as payload. */
export const PROGRESS_CHANNEL = "async_tools_progress";

/** A pool of connections: `pg`'s `Pool` fits. */
export interface PgPool extends Queryable {
  end(): Promise<void>;
}

/** Writes in order on one chain; a failed write is logged, never thrown at the job. */
class WriteChain {
  private last: Promise<void> = Promise.resolve();
  private readonly failed: string;

  constructor(failed: string) {
    this.failed = failed;
  }

  add(write: () => Promise<unknown>): void {
    this.last = this.last.then(write).then(
      () => undefined,
      (error: unknown) => log("warn", this.failed, { error }),
    );
  }

  /** Resolves once every write added so far has been answered or has failed. */
  settled(): Promise<void> {
    return this.last;
  }
}

interface PendingProgress {
  tool: string;
  fraction: number;
  message: string | undefined;
  at: number;
}

/** The job index in `async_tools.jobs`. */
export class PostgresJobIndex implements JobIndex {
  private readonly writes = new WriteChain("job metadata not stored; the jobs run, listing may miss them");
  private readonly pending = new Map<string, PendingProgress>();
  private readonly lastWritten = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();

  private readonly pool: PgPool;
  private readonly progressMs: number;

  constructor(pool: PgPool, progressMs: number) {
    this.pool = pool;
    this.progressMs = progressMs;
  }

  recordSoon(id: string, tool: string, now: number, principal?: string): void {
    // A row a progress write created first has no principal yet: the record fills it in, nothing else.
    this.writes.add(() =>
      this.pool.query(
        `INSERT INTO async_tools.jobs (id, tool, created_at, principal) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET principal = excluded.principal
         WHERE async_tools.jobs.principal IS NULL AND excluded.principal IS NOT NULL`,
        [id, tool, now, principal ?? null],
      ),
    );
  }

  progress(id: string, tool: string, fraction: number, message: string | undefined, now: number): void {
    this.pending.set(id, { tool, fraction, message, at: now });
    if (this.timers.has(id)) return;
    const due = (this.lastWritten.get(id) ?? 0) + this.progressMs - Date.now();
    if (due <= 0) {
      this.writeProgress(id);
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(id);
      this.writeProgress(id);
    }, due);
    timer.unref();
    this.timers.set(id, timer);
  }

  private writeProgress(id: string): void {
    const p = this.pending.get(id);
    if (p === undefined) return;
    this.pending.delete(id);
    this.lastWritten.set(id, Date.now());
    this.writes.add(() =>
      this.pool.query(
        `WITH up AS (
           INSERT INTO async_tools.jobs (id, tool, created_at, progress, message, progress_at)
           VALUES ($1, $2, $3, $4, $5, $3)
           ON CONFLICT (id) DO UPDATE SET progress = excluded.progress, message = excluded.message,
             progress_at = excluded.progress_at
           RETURNING id)
         SELECT pg_notify($6, id) FROM up`,
        [id, p.tool, p.at, p.fraction, p.message ?? null, PROGRESS_CHANNEL],
      ),
    );
  }

  async get(id: string): Promise<JobMetaRow | undefined> {
    await this.writes.settled();
    const { rows } = await this.pool.query("SELECT * FROM async_tools.jobs WHERE id = $1", [id]);
    const raw = rows[0];
    const row = raw === undefined ? undefined : toRow(raw);
    // Progress held back by the throttle is newer than the stored one.
    const p = this.pending.get(id);
    if (p === undefined) return row;
    return {
      id,
      tool: row?.tool ?? p.tool,
      createdAt: row?.createdAt ?? p.at,
      progress: {
        fraction: p.fraction,
        updatedAt: p.at,
        ...(p.message === undefined ? {} : { message: p.message }),
      },
    };
  }

  /**
   * Jobs after `cursor` in start order (before it, from the newest back), of one tool, started since a time,
   * and of one principal (with rows whose principal is unknown).
   */
  async list(options: JobListOptions): Promise<JobPage> {
    await this.writes.settled();
    const newest = options.order === "newest";
    const where: string[] = [newest ? "seq < $1" : "seq > $1"];
    const values: unknown[] = [options.cursor ?? (newest ? Number.MAX_SAFE_INTEGER : 0)];
    if (options.tool !== undefined) {
      values.push(options.tool);
      where.push(`tool = $${values.length}`);
    }
    if (options.principal !== undefined) {
      values.push(options.principal);
      where.push(`(principal = $${values.length} OR principal IS NULL)`);
    }
    if (options.since !== undefined) {
      values.push(options.since);
      where.push(`created_at >= $${values.length}`);
    }
    values.push(options.limit + 1);
    const { rows } = await this.pool.query(
      `SELECT * FROM async_tools.jobs WHERE ${where.join(" AND ")} ORDER BY seq${newest ? " DESC" : ""} LIMIT $${values.length}`,
      values,
    );
    const more = rows.length > options.limit;
    const taken = more ? rows.slice(0, options.limit) : rows;
    const last = taken.at(-1);
    return { rows: taken.map(toRow), ...(more && last ? { next: Number(last.seq) } : {}) };
  }

  async pruneBefore(before: number): Promise<number> {
    await this.writes.settled();
    const { rows } = await this.pool.query<{ n: string }>(
      "WITH gone AS (DELETE FROM async_tools.jobs WHERE created_at < $1 RETURNING 1) SELECT count(*) AS n FROM gone",
      [before],
    );
    return Number(rows[0]?.n ?? 0);
  }

  /** The jobs among `ids` whose root promise is settled: one query for all of them. */
  async settled(ids: readonly string[]): Promise<SettledJob[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.pool.query<{ id: string; state: SettledJob["state"] }>(
      "SELECT id, state FROM async_tools.settled_jobs($1::text[])",
      [ids],
    );
    return rows;
  }

  async flush(): Promise<void> {
    for (const [id, timer] of this.timers) {
      clearTimeout(timer);
      this.timers.delete(id);
      this.writeProgress(id);
    }
    await this.writes.settled();
  }
}

/** The step log in `async_tools.steps`. */
export class PostgresStepLog implements StepRecords {
  private readonly writes = new WriteChain(
    "step attempts not recorded; the jobs run, their timelines may miss them",
  );
  private closed = false;
  private readonly pool: PgPool;
  private readonly checkpoints: StepCheckpoints | undefined;

  constructor(pool: PgPool, checkpoints?: StepCheckpoints) {
    this.pool = pool;
    this.checkpoints = checkpoints;
  }

  async begin(jobId: string, stepId: string, name: string, now: number): Promise<number> {
    const started = this.checkpoints?.takeStarted(stepId);
    if (started !== undefined) return started;
    // A retry's attempt follows the first's row, which a create answered in this replica may not have sent yet.
    await this.checkpoints?.created(stepId);
    await this.writes.settled();
    // One statement: an attempt still running belonged to a process that is gone (it becomes interrupted),
    // and the new attempt continues the count across processes.
    const { rows } = await this.pool.query<{ attempt: number }>(
      `WITH gone AS (
         UPDATE async_tools.steps SET outcome = 'interrupted', ended_at = $4
         WHERE job_id = $1 AND step_id = $2 AND outcome = 'running' RETURNING 1)
       INSERT INTO async_tools.steps (job_id, step_id, name, attempt, outcome, started_at)
       SELECT $1, $2, $3, COALESCE(MAX(attempt), 0) + 1, 'running', $4
       FROM async_tools.steps WHERE job_id = $1 AND step_id = $2
       ON CONFLICT (job_id, step_id, attempt) DO UPDATE SET outcome = 'running', started_at = excluded.started_at
       RETURNING attempt`,
      [jobId, stepId, name, now],
    );
    return Number(rows[0]?.attempt ?? 1);
  }

  end(jobId: string, stepId: string, attempt: number, now: number, error?: string): void {
    if (this.closed) return;
    // A success is followed by its step's settle, which carries the end; a failure may be retried, with no settle.
    if (error === undefined && this.checkpoints !== undefined)
      this.checkpoints.hold({ job: jobId, step: stepId, attempt, at: now }, () => {
        if (!this.closed) this.write(jobId, stepId, attempt, now);
      });
    else this.write(jobId, stepId, attempt, now, error);
  }

  private write(jobId: string, stepId: string, attempt: number, now: number, error?: string): void {
    const outcome: StepAttemptOutcome = error === undefined ? "succeeded" : "failed";
    this.writes.add(async () => {
      await this.checkpoints?.created(stepId);
      return this.pool.query(
        `UPDATE async_tools.steps SET outcome = $1, ended_at = $2, error = $3
         WHERE job_id = $4 AND step_id = $5 AND attempt = $6`,
        [outcome, now, error ?? null, jobId, stepId, attempt],
      );
    });
  }

  retryAt(jobId: string, stepId: string, attempt: number, at: number): void {
    if (this.closed) return;
    this.writes.add(async () => {
      await this.checkpoints?.created(stepId);
      return this.pool.query(
        "UPDATE async_tools.steps SET retry_at = $1 WHERE job_id = $2 AND step_id = $3 AND attempt = $4",
        [at, jobId, stepId, attempt],
      );
    });
  }

  async steps(jobId: string): Promise<StepRow[]> {
    this.checkpoints?.release(jobId);
    await this.checkpoints?.createsSent();
    await this.writes.settled();
    const { rows } = await this.pool.query(
      "SELECT * FROM async_tools.steps WHERE job_id = $1 ORDER BY started_at, step_id, attempt",
      [jobId],
    );
    return stepRowsOf(rows);
  }

  async pruneBefore(before: number): Promise<number> {
    await this.writes.settled();
    const { rows } = await this.pool.query<{ n: string }>(
      "WITH gone AS (DELETE FROM async_tools.steps WHERE started_at < $1 RETURNING 1) SELECT count(*) AS n FROM gone",
      [before],
    );
    return Number(rows[0]?.n ?? 0);
  }

  async forget(jobId: string): Promise<void> {
    await this.writes.settled();
    await this.pool.query("DELETE FROM async_tools.steps WHERE job_id = $1", [jobId]);
  }

  close(): void {
    this.checkpoints?.release();
    this.closed = true;
  }

  /** Resolves once every write sent so far has been answered or has failed. */
  settled(): Promise<void> {
    return this.writes.settled();
  }
}

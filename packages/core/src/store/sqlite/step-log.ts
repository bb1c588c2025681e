/**
 * The attempts of every durable step, so an operator can see what a job did, what failed and when: one row
 * per attempt, kept in the store's SQLite file beside the job index (in memory when the store has no file).
 * A step is known by its durable promise ID, which is the same on every replay, so a finished step that
 * replay takes from the store records nothing, and an attempt a crash cut short is marked `interrupted`.
 * Writes are batched per turn of the event loop, one transaction for all the steps that moved in it, so the
 * log costs the jobs little; reads write what is queued first. An attempt that ends before its start is
 * written is one row written once, and a job's attempt counts are read from the file once, not per step.
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { log } from "../../internal/log.ts";
import { stepRowsOf } from "../rows.ts";
import type { StepRecords, StepRow } from "../store.ts";
import { QueuedWrites, type StoreCommits } from "./queued-writes.ts";

/**
 * Jobs whose attempt counts {@link StepLog} keeps in RAM (the jobs it saw last). Past it the older half is
 * dropped and read again from the file if one of those jobs runs another step.
 */
export const STEP_COUNTS_CACHED_JOBS = 4096;

/** An attempt as it will be written: its end (and retry time) join it while its row is still queued. */
interface Attempt {
  jobId: string;
  stepId: string;
  name: string;
  attempt: number;
  startedAt: number;
  outcome: "running" | "succeeded" | "failed";
  endedAt: number | null;
  error: string | null;
  retryAt: number | null;
  /** Whether an earlier attempt of the step is recorded, so a running one must be marked interrupted. */
  follows: boolean;
  /** Whether its row was written (it may still be rolled back and written again, as it is then). */
  written: boolean;
}

/** The step log over one SQLite connection (shared with the store, or private and in memory). */
export class StepLog implements StepRecords {
  private readonly db: DatabaseSync;
  private readonly shared: boolean;
  private readonly attemptsOfJob: StatementSync;
  private readonly interrupt: StatementSync;
  private readonly insert: StatementSync;
  private readonly finish: StatementSync;
  private readonly retry: StatementSync;
  private readonly byJob: StatementSync;
  private readonly prune: StatementSync;
  private readonly forgetJob: StatementSync;
  /** Records of this turn, written in the store's commit of the turn or on their own at its end. */
  private readonly writes: QueuedWrites;
  /**
   * The last attempt number of each step of the jobs seen lately (job → step → attempt), counting the
   * queued ones: this log is the only writer of its table, so after one read of a job the counts stay exact.
   */
  private readonly counts = new Map<string, Map<string, number>>();
  /** Attempts whose row is queued and not written yet, by job, step and attempt. */
  private readonly queued = new Map<string, Attempt>();
  private closed = false;

  /**
   * Uses the store's connection `db` when given; otherwise a private in-memory database. With `commits`
   * (the store network on that connection), queued writes go into the store's transaction of the same turn
   * when there is one, rather than into one of their own.
   */
  constructor(db?: DatabaseSync, commits?: StoreCommits) {
    this.shared = db !== undefined;
    this.db = db ?? new DatabaseSync(":memory:");
    this.writes = new QueuedWrites(this.db, commits, {
      wait: "turn",
      failed: (error) =>
        log("warn", "step attempts not recorded; the jobs run, their timelines may miss them", { error }),
    });
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS async_tools_steps (
        job_id TEXT NOT NULL,
        step_id TEXT NOT NULL,
        name TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        ended_at INTEGER,
        error TEXT,
        retry_at INTEGER,
        PRIMARY KEY (job_id, step_id, attempt)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS async_tools_steps_started ON async_tools_steps (started_at);
    `);
    this.attemptsOfJob = this.db.prepare(
      "SELECT step_id, MAX(attempt) AS n FROM async_tools_steps WHERE job_id = ? GROUP BY step_id",
    );
    this.interrupt = this.db.prepare(
      `UPDATE async_tools_steps SET outcome = 'interrupted', ended_at = ?
       WHERE job_id = ? AND step_id = ? AND outcome = 'running'`,
    );
    this.insert = this.db.prepare(
      `INSERT OR REPLACE INTO async_tools_steps
       (job_id, step_id, name, attempt, outcome, started_at, ended_at, error, retry_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.finish = this.db.prepare(
      `UPDATE async_tools_steps SET outcome = ?, ended_at = ?, error = ?
       WHERE job_id = ? AND step_id = ? AND attempt = ?`,
    );
    this.retry = this.db.prepare(
      "UPDATE async_tools_steps SET retry_at = ? WHERE job_id = ? AND step_id = ? AND attempt = ?",
    );
    this.byJob = this.db.prepare(
      "SELECT * FROM async_tools_steps WHERE job_id = ? ORDER BY started_at, step_id, attempt",
    );
    this.prune = this.db.prepare("DELETE FROM async_tools_steps WHERE started_at < ?");
    this.forgetJob = this.db.prepare("DELETE FROM async_tools_steps WHERE job_id = ?");
  }

  /**
   * Records the start of an attempt of step `stepId` and returns its 1-based number: one more than the
   * attempts already recorded, so an execution after a crash continues the count. An attempt still marked
   * running belonged to a process that is gone; it becomes `interrupted`.
   */
  async begin(jobId: string, stepId: string, name: string, now: number): Promise<number> {
    // Nothing queued: any attempt still listed was dropped with a failed write, and its end writes an update.
    if (!this.writes.pending) this.queued.clear();
    const counts = this.countsOf(jobId);
    const previous = counts.get(stepId) ?? 0;
    const attempt = previous + 1;
    counts.set(stepId, attempt);
    const record: Attempt = {
      jobId,
      stepId,
      name,
      attempt,
      startedAt: now,
      outcome: "running",
      endedAt: null,
      error: null,
      retryAt: null,
      follows: previous > 0,
      written: false,
    };
    const key = attemptKey(jobId, stepId, attempt);
    this.queued.set(key, record);
    this.enqueue(() => {
      if (this.queued.get(key) === record) this.queued.delete(key);
      record.written = true;
      if (record.follows) this.interrupt.run(record.startedAt, jobId, stepId);
      this.insert.run(
        jobId,
        stepId,
        name,
        attempt,
        record.outcome,
        record.startedAt,
        record.endedAt,
        record.error,
        record.retryAt,
      );
    });
    return attempt;
  }

  /** Records how attempt `attempt` of `stepId` ended. */
  end(jobId: string, stepId: string, attempt: number, now: number, error?: string): void {
    const outcome = error === undefined ? "succeeded" : "failed";
    const record = this.queued.get(attemptKey(jobId, stepId, attempt));
    if (record !== undefined && !record.written) {
      Object.assign(record, { outcome, endedAt: now, error: error ?? null });
      return;
    }
    this.enqueue(() => this.finish.run(outcome, now, error ?? null, jobId, stepId, attempt));
  }

  /** Records when the attempt after the failed `attempt` is due. */
  retryAt(jobId: string, stepId: string, attempt: number, at: number): void {
    const record = this.queued.get(attemptKey(jobId, stepId, attempt));
    if (record !== undefined && !record.written) {
      record.retryAt = at;
      return;
    }
    this.enqueue(() => this.retry.run(at, jobId, stepId, attempt));
  }

  /**
   * The attempt counts of `jobId`'s steps, read from the file the first time (queued rows are counted in RAM
   * already). Past {@link STEP_COUNTS_CACHED_JOBS} jobs the older half is dropped, once what is queued is
   * written, so that a job read again finds its rows.
   */
  private countsOf(jobId: string): Map<string, number> {
    const cached = this.counts.get(jobId);
    if (cached !== undefined) return cached;
    if (this.counts.size >= STEP_COUNTS_CACHED_JOBS) {
      if (this.writes.pending) this.flushQuietly();
      let drop = this.counts.size / 2;
      for (const job of this.counts.keys()) {
        if (drop-- <= 0) break;
        this.counts.delete(job);
      }
    }
    const counts = new Map<string, number>();
    if (!this.closed) {
      for (const row of this.attemptsOfJob.all(jobId) as { step_id: string; n: number }[])
        counts.set(row.step_id, Number(row.n));
    }
    this.counts.set(jobId, counts);
    return counts;
  }

  /**
   * Queues a write for the end of this turn. After {@link StepLog.close} writes are dropped: the runtime
   * stopped, and an attempt left running is marked interrupted when its step executes again.
   */
  private enqueue(write: () => void): void {
    if (this.closed) return;
    this.writes.add(write);
  }

  /** Writes the queued records in one transaction. */
  flush(): void {
    if (this.closed) return;
    this.writes.flush();
  }

  /** {@link StepLog.flush}, logging instead of throwing: the step log is advice, never the job's state. */
  flushQuietly(): void {
    try {
      this.flush();
    } catch (error) {
      log("warn", "step attempts not recorded; the jobs run, their timelines may miss them", { error });
    }
  }

  /** The steps of `jobId` in the order they first started, each with its attempts. */
  async steps(jobId: string): Promise<StepRow[]> {
    this.flushQuietly();
    return stepRowsOf(this.byJob.all(jobId) as Record<string, unknown>[]);
  }

  /** Forgets attempts that started before `before` (epoch ms); returns how many. */
  async pruneBefore(before: number): Promise<number> {
    this.flushQuietly();
    this.counts.clear();
    return Number(this.prune.run(before).changes);
  }

  /** Forgets every attempt of `jobId`. */
  async forget(jobId: string): Promise<void> {
    this.flushQuietly();
    this.counts.delete(jobId);
    this.forgetJob.run(jobId);
  }

  /** Writes what is queued and stops recording; closes a private database (the store closes a shared one). */
  close(): void {
    if (this.closed) return;
    this.flushQuietly();
    this.closed = true;
    this.writes.stop();
    this.counts.clear();
    this.queued.clear();
    if (!this.shared) this.db.close();
  }
}

function attemptKey(jobId: string, stepId: string, attempt: number): string {
  return `${jobId}\u0000${stepId}\u0000${attempt}`;
}

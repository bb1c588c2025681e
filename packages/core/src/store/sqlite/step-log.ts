/**
 * The attempts of every durable step, so an operator can see what a job did, what failed and when: one row
 * per attempt, kept in the store's SQLite file beside the job index (in memory when the store has no file).
 * A step is known by its durable promise ID, which is the same on every replay, so a finished step that
 * replay takes from the store records nothing, and an attempt a crash cut short is marked `interrupted`.
 * Writes are batched per turn of the event loop, one transaction for all the steps that moved in it, so the
 * log costs the jobs little; reads write what is queued first.
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { log } from "../../internal/log.ts";
import { stepRowsOf } from "../rows.ts";
import type { StepRecords, StepRow } from "../store.ts";
import { QueuedWrites, type StoreCommits } from "./queued-writes.ts";

/** The step log over one SQLite connection (shared with the store, or private and in memory). */
export class StepLog implements StepRecords {
  private readonly db: DatabaseSync;
  private readonly shared: boolean;
  private readonly lastAttempt: StatementSync;
  private readonly interrupt: StatementSync;
  private readonly insert: StatementSync;
  private readonly finish: StatementSync;
  private readonly retry: StatementSync;
  private readonly byJob: StatementSync;
  private readonly prune: StatementSync;
  private readonly forgetJob: StatementSync;
  /** Records of this turn, written in the store's commit of the turn or on their own at its end. */
  private readonly writes: QueuedWrites;
  /** Steps whose start is queued, so a second start of one of them writes the first before counting. */
  private readonly queuedStarts = new Set<string>();
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
    this.lastAttempt = this.db.prepare(
      "SELECT MAX(attempt) AS n FROM async_tools_steps WHERE job_id = ? AND step_id = ?",
    );
    this.interrupt = this.db.prepare(
      `UPDATE async_tools_steps SET outcome = 'interrupted', ended_at = ?
       WHERE job_id = ? AND step_id = ? AND outcome = 'running'`,
    );
    this.insert = this.db.prepare(
      `INSERT OR REPLACE INTO async_tools_steps (job_id, step_id, name, attempt, outcome, started_at)
       VALUES (?, ?, ?, ?, 'running', ?)`,
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
    const key = `${jobId}\u0000${stepId}`;
    // Starts written meanwhile (riding along, or on their own) are counted by the read below.
    if (!this.writes.pending) this.queuedStarts.clear();
    if (this.queuedStarts.has(key)) this.flush();
    const row = this.closed
      ? undefined
      : (this.lastAttempt.get(jobId, stepId) as { n: number | null } | undefined);
    const attempt = Number(row?.n ?? 0) + 1;
    this.queuedStarts.add(key);
    this.enqueue(() => {
      this.interrupt.run(now, jobId, stepId);
      this.insert.run(jobId, stepId, name, attempt, now);
    });
    return attempt;
  }

  /** Records how attempt `attempt` of `stepId` ended. */
  end(jobId: string, stepId: string, attempt: number, now: number, error?: string): void {
    const outcome = error === undefined ? "succeeded" : "failed";
    this.enqueue(() => this.finish.run(outcome, now, error ?? null, jobId, stepId, attempt));
  }

  /** Records when the attempt after the failed `attempt` is due. */
  retryAt(jobId: string, stepId: string, attempt: number, at: number): void {
    this.enqueue(() => this.retry.run(at, jobId, stepId, attempt));
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
    this.queuedStarts.clear();
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
    return Number(this.prune.run(before).changes);
  }

  /** Forgets every attempt of `jobId`. */
  async forget(jobId: string): Promise<void> {
    this.flushQuietly();
    this.forgetJob.run(jobId);
  }

  /** Writes what is queued and stops recording; closes a private database (the store closes a shared one). */
  close(): void {
    if (this.closed) return;
    this.flushQuietly();
    this.closed = true;
    this.writes.stop();
    if (!this.shared) this.db.close();
  }
}

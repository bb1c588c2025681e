/**
 * What Resonate's promises do not hold about a job: the tool it belongs to, the latest progress its function
 * reported, and a row that outlives retention so a probe can say a job expired rather than never existed.
 * Lives in the store's SQLite file when there is one, else in an in-memory SQLite database.
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { AsyncToolsError } from "../../errors.ts";
import { log } from "../../internal/log.ts";
import { toRow } from "../rows.ts";
import type { JobIndex, JobListOptions, JobMetaRow, JobPage, JobRecord } from "../store.ts";
import { QueuedWrites, type StoreCommits } from "./queued-writes.ts";

/**
 * The job rows, numbered in start order by their rowid (`seq`, a listing's cursor). Without `AUTOINCREMENT`,
 * which wrote its counter's page (`sqlite_sequence`) with every new row: a new row takes the largest seq plus
 * one, and pruning keeps the newest row, so no seq is ever given twice.
 */
const JOBS_TABLE = (name: string) => `CREATE TABLE ${name} (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    tool TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    progress REAL,
    message TEXT,
    progress_at INTEGER,
    principal TEXT
  )`;
const TOOL_INDEX = "CREATE INDEX IF NOT EXISTS async_tools_jobs_tool ON async_tools_jobs (tool, seq)";
const PRINCIPAL_INDEX =
  "CREATE INDEX IF NOT EXISTS async_tools_jobs_principal ON async_tools_jobs (principal, seq)";

/** The warning when job rows cannot be written: the jobs themselves are not affected. */
const NOT_STORED = "job metadata not stored; the jobs run, listing may miss them";

/** Job metadata over one SQLite connection (shared with the store, or private and in memory). */
export class JobMeta implements JobIndex {
  private readonly insert: StatementSync;
  private readonly update: StatementSync;
  private readonly select: StatementSync;
  /** Listing statements by the filters they take, prepared on first use. */
  private readonly pages = new Map<string, StatementSync>();
  private readonly prune: StatementSync;
  private readonly db: DatabaseSync;
  /** Whether the connection is the store's (closed by it) rather than this index's own. */
  private readonly shared: boolean;

  private readonly where: string;
  /** New job rows, written in the store's next commit or on their own. */
  private readonly writes: QueuedWrites;

  /** Told the job whose progress was stored (the store's change feed). */
  private readonly progressed: ((id: string) => void) | undefined;

  /**
   * `where` names the store in error messages. With `commits` (the store network on the same connection),
   * queued rows are written inside the store's next transaction rather than in one of their own. `progressed`
   * hears each job whose progress was stored.
   */
  constructor(
    db?: DatabaseSync,
    where = "memory",
    commits?: StoreCommits,
    progressed?: (id: string) => void,
  ) {
    this.progressed = progressed;
    this.shared = db !== undefined;
    db ??= new DatabaseSync(":memory:");
    this.db = db;
    this.where = where;
    // Riding along, the store's next commit (the job's own next request, usually in the next turn) takes the
    // rows; the timer only catches a store that goes quiet.
    this.writes = new QueuedWrites(db, commits, {
      wait: commits === undefined ? "turn" : "timer",
      failed: (error) => log("warn", NOT_STORED, { store: where, error }),
    });
    db.exec(`${JOBS_TABLE("IF NOT EXISTS async_tools_jobs")}; ${TOOL_INDEX}`);
    migrate(db);
    // A row written first by `progress` has no principal yet: its record fills it in, and changes nothing else.
    this.insert = db.prepare(
      `INSERT INTO async_tools_jobs (id, tool, created_at, principal) VALUES (?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET principal = excluded.principal
       WHERE async_tools_jobs.principal IS NULL AND excluded.principal IS NOT NULL`,
    );
    this.update = db.prepare(
      `INSERT INTO async_tools_jobs (id, tool, created_at, progress, message, progress_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET progress = excluded.progress, message = excluded.message,
         progress_at = excluded.progress_at`,
    );
    this.select = db.prepare("SELECT * FROM async_tools_jobs WHERE id = ?");
    // The newest row stays, so a new job never takes the seq of a pruned one (a listing cursor's place).
    this.prune = db.prepare(
      "DELETE FROM async_tools_jobs WHERE created_at < ? AND seq < (SELECT max(seq) FROM async_tools_jobs)",
    );
  }

  /**
   * Notes that `id` is a job of `tool` (a second note for the same ID changes nothing). Written on the next
   * turn of the event loop with the other notes of this turn, off the path of the caller's answer; reads
   * flush first, so they see the row at once.
   */
  recordSoon(id: string, tool: string, now: number, principal?: string): void {
    this.writes.add(() => this.insert.run(id, tool, now, principal ?? null));
  }

  /** Writes the rows {@link JobMeta.recordSoon} queued. */
  async flush(): Promise<void> {
    this.flushNow();
  }

  /** Writes rows recorded elsewhere (by a process that joined this store), in one transaction. */
  recordMany(rows: JobRecord[]): void {
    for (const row of rows) {
      this.writes.add(() => this.insert.run(row.id, row.tool, row.createdAt, row.principal ?? null));
    }
    this.flushNow();
  }

  private flushNow(): void {
    this.write(() => this.writes.flush());
  }

  /** {@link JobMeta.flush}, logging instead of throwing. */
  flushQuietly(): void {
    try {
      this.flushNow();
    } catch (error) {
      log("warn", NOT_STORED, { store: this.where, error });
    }
  }

  /** Stores the latest progress of `id` (a job of `tool`), recording the job if it was not yet. */
  progress(id: string, tool: string, fraction: number, message: string | undefined, now: number): void {
    this.write(() => this.update.run(id, tool, now, fraction, message ?? null, now));
    this.progressed?.(id);
  }

  /** The metadata of `id`, if it was ever recorded (and not yet pruned). */
  async get(id: string): Promise<JobMetaRow | undefined> {
    if (this.writes.pending) this.flushQuietly();
    const row = this.select.get(id) as Record<string, unknown> | undefined;
    return row === undefined ? undefined : toRow(row);
  }

  /**
   * Jobs after `cursor` (an opaque number from an earlier page) in start order, or before it from the newest
   * back, optionally of one tool, started since a time, and of one principal (with the rows whose principal
   * was never recorded).
   */
  async list(options: JobListOptions): Promise<JobPage> {
    if (this.writes.pending) this.flushQuietly();
    const newest = options.order === "newest";
    const { tool, principal, since } = options;
    const where = [newest ? "seq < ?" : "seq > ?"];
    const values: (string | number)[] = [options.cursor ?? (newest ? Number.MAX_SAFE_INTEGER : 0)];
    if (tool !== undefined) {
      where.push("tool = ?");
      values.push(tool);
    }
    if (principal !== undefined) {
      // NULL: a row recorded before the index held principals; the caller checks those itself.
      where.push("(principal = ? OR principal IS NULL)");
      values.push(principal);
    }
    if (since !== undefined) {
      where.push("created_at >= ?");
      values.push(since);
    }
    const sql = `SELECT * FROM async_tools_jobs WHERE ${where.join(" AND ")} ORDER BY seq${newest ? " DESC" : ""} LIMIT ?`;
    let statement = this.pages.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.pages.set(sql, statement);
    }
    const raw = statement.all(...values, options.limit + 1) as Record<string, unknown>[];
    const more = raw.length > options.limit;
    const taken = more ? raw.slice(0, options.limit) : raw;
    const last = taken.at(-1);
    return { rows: taken.map(toRow), ...(more && last ? { next: Number(last.seq) } : {}) };
  }

  /** Forgets jobs started before `before` (epoch ms); returns how many. */
  async pruneBefore(before: number): Promise<number> {
    return this.write(() => Number(this.prune.run(before).changes));
  }

  /** Runs a write, turning a SQLite failure (disk full, read-only file) into `STORE_IO` naming the store. */
  private write<T>(fn: () => T): T {
    try {
      return fn();
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new AsyncToolsError(
        "STORE_IO",
        `Cannot write to the store ${this.where} (${reason}). Free disk space or fix the file's permissions.`,
        { cause },
      );
    }
  }

  /** Closes a private in-memory database; a shared store connection is closed by its owner. */
  close(): void {
    if (!this.shared && this.db.isOpen) this.db.close();
  }
}

/**
 * Brings an older job index up to date, in place: the principal column (existing rows keep NULL, "not
 * recorded") and the index a principal's listing reads; a table made with `AUTOINCREMENT` is copied into one
 * without it, each row keeping its seq.
 */
function migrate(db: DatabaseSync): void {
  const columns = db.prepare("PRAGMA table_info(async_tools_jobs)").all() as { name: string }[];
  if (!columns.some((column) => column.name === "principal")) {
    db.exec("ALTER TABLE async_tools_jobs ADD COLUMN principal TEXT");
  }
  const table = db
    .prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'async_tools_jobs'")
    .get() as { sql: string };
  if (/\bAUTOINCREMENT\b/i.test(table.sql)) {
    const outer = !db.isTransaction;
    if (outer) db.exec("BEGIN IMMEDIATE");
    try {
      db.exec(`
        ${JOBS_TABLE("async_tools_jobs_new")};
        INSERT INTO async_tools_jobs_new (seq, id, tool, created_at, progress, message, progress_at, principal)
          SELECT seq, id, tool, created_at, progress, message, progress_at, principal FROM async_tools_jobs;
        DROP TABLE async_tools_jobs;
        ALTER TABLE async_tools_jobs_new RENAME TO async_tools_jobs;
        ${TOOL_INDEX};
      `);
      if (outer) db.exec("COMMIT");
    } catch (error) {
      if (outer && db.isTransaction) db.exec("ROLLBACK");
      throw error;
    }
  }
  db.exec(PRINCIPAL_INDEX);
}

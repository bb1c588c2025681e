/**
 * The store file: its schema, how it is opened (header and schema checked before the first write, the
 * lock taken by that first write), its prepared statements, and the errors that say what to do.
 */
import { closeSync, mkdirSync, openSync, readSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { AsyncToolsError } from "../../errors.ts";

/** The version of the tables below; a file of another version is refused, never migrated silently. */
export const SCHEMA_VERSION = "1";
/** What the `meta` table says a store file is. */
export const FORMAT = "async-tools-resonate";
const SQLITE_MAGIC = Buffer.from("SQLite format 3\0", "latin1");
/**
 * WAL pages between automatic checkpoints (SQLite's default is 1,000, 4 MB). A checkpoint copies the WAL into
 * the file and syncs it, inside the commit that crosses the mark, on the event loop; at 1,000 pages it was
 * up to two thirds of the commit time with 32 submitters. 8,192 pages (32 MB of WAL at most) copies each hot
 * index page once per 8x more commits: three-step throughput with 32 submitters +8% (median of 5 interleaved
 * pairs, 1-17%). A restart after a crash reads that WAL back.
 */
const WAL_CHECKPOINT_PAGES = 8192;

const SCHEMA = `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE promises (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    state TEXT NOT NULL,
    origin TEXT NOT NULL,
    branch TEXT,
    created_at INTEGER NOT NULL,
    settled_at INTEGER,
    body TEXT NOT NULL
  );
  CREATE INDEX promises_pending ON promises (seq) WHERE state = 'pending';
  CREATE INDEX promises_branch ON promises (branch, seq) WHERE branch IS NOT NULL;
  CREATE INDEX promises_origin ON promises (origin, state);
  CREATE INDEX promises_settled_roots ON promises (settled_at, id) WHERE id = origin AND state <> 'pending';
  CREATE TABLE tasks (id TEXT PRIMARY KEY, state TEXT NOT NULL, body TEXT NOT NULL);
  CREATE INDEX tasks_unfulfilled ON tasks (state) WHERE state <> 'fulfilled';
  CREATE TABLE schedules (id TEXT PRIMARY KEY, body TEXT NOT NULL);
  CREATE TABLE timeouts (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    type INTEGER,
    timeout INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (kind, id)
  ) WITHOUT ROWID;
`;

/** The prepared statements of an open store file. */
export type Statements = ReturnType<typeof prepare>;

/** Prepares every statement the store runs. */
export function prepare(db: DatabaseSync) {
  const statement = (sql: string): StatementSync => db.prepare(sql);
  return {
    getPromise: statement("SELECT body FROM promises WHERE id = ?"),
    getTask: statement("SELECT body FROM tasks WHERE id = ?"),
    branch: statement("SELECT id, body FROM promises WHERE branch = ? ORDER BY seq"),
    pendingPromises: statement("SELECT body FROM promises WHERE state = 'pending' ORDER BY seq"),
    unfulfilledTasks: statement("SELECT body FROM tasks WHERE state <> 'fulfilled'"),
    allSchedules: statement("SELECT body FROM schedules"),
    allTimeouts: statement("SELECT kind, id, type, timeout FROM timeouts ORDER BY seq"),
    maxSeq: statement(
      "SELECT max(coalesce((SELECT max(seq) FROM promises), 0), coalesce((SELECT max(seq) FROM timeouts), 0)) AS seq",
    ),
    putPromise: statement(
      `INSERT INTO promises (id, seq, state, origin, branch, created_at, settled_at, body)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET state = excluded.state, settled_at = excluded.settled_at, body = excluded.body`,
    ),
    putTask: statement(
      "INSERT INTO tasks (id, state, body) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET state = excluded.state, body = excluded.body",
    ),
    putSchedule: statement(
      "INSERT INTO schedules (id, body) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET body = excluded.body",
    ),
    deleteSchedule: statement("DELETE FROM schedules WHERE id = ?"),
    putTimeout: statement(
      `INSERT INTO timeouts (kind, id, type, timeout, seq) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (kind, id) DO UPDATE SET type = excluded.type, timeout = excluded.timeout`,
    ),
    deleteTimeout: statement("DELETE FROM timeouts WHERE kind = ? AND id = ?"),
    oldRoots: statement(
      `SELECT id, settled_at FROM promises
       WHERE id = origin AND state <> 'pending' AND settled_at < ? AND (settled_at, id) > (?, ?)
       ORDER BY settled_at, id LIMIT ?`,
    ),
    lineage: statement("SELECT id, state FROM promises WHERE origin = ?"),
    deleteLineageTimeouts: statement(
      "DELETE FROM timeouts WHERE kind IN ('p', 't') AND id IN (SELECT id FROM promises WHERE origin = ?)",
    ),
    deleteLineageTasks: statement("DELETE FROM tasks WHERE id IN (SELECT id FROM promises WHERE origin = ?)"),
    deleteLineagePromises: statement("DELETE FROM promises WHERE origin = ?"),
  };
}

/** Rolls back an open transaction, quietly: the failure being reported says more. */
export function rollback(db: DatabaseSync): void {
  try {
    if (db.isTransaction) db.exec("ROLLBACK");
  } catch {
    // The failure being reported already says more than a failed rollback would.
  }
}

/**
 * Opens `file` as a store, or refuses it without writing a byte: the header and schema are checked before
 * the first write, and the lock is taken by that first write.
 */
export function openDatabase(file: string, durability: "normal" | "full", lockWaitMs: number): DatabaseSync {
  if (file !== ":memory:") inspectFile(file);
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(file);
  } catch (error) {
    throw toStoreError(file, error);
  }
  try {
    db.exec(`PRAGMA busy_timeout = ${Math.round(lockWaitMs)}`);
    // Before any access, so the lock, once taken, is held until close and WAL keeps its index in heap memory.
    db.exec("PRAGMA locking_mode = EXCLUSIVE");
    const fresh = checkSchema(db, file);
    if (file !== ":memory:") {
      const { journal_mode: mode } = db.prepare("PRAGMA journal_mode = WAL").get() as {
        journal_mode: string;
      };
      if (mode !== "wal") throw new Error(`the file cannot be switched to WAL mode (it stays "${mode}")`);
      db.exec(`PRAGMA wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`);
    }
    db.exec(`PRAGMA synchronous = ${durability === "full" ? "FULL" : "NORMAL"}`);
    db.exec("BEGIN IMMEDIATE");
    try {
      if (fresh) {
        db.exec(SCHEMA);
        db.prepare("INSERT INTO meta (key, value) VALUES ('format', ?), ('schema_version', ?)").run(
          FORMAT,
          SCHEMA_VERSION,
        );
      }
      db.exec("COMMIT");
    } catch (error) {
      rollback(db);
      throw error;
    }
    return db;
  } catch (error) {
    db.close();
    throw toStoreError(file, error);
  }
}

/** Prepares the directory and refuses anything that is not a SQLite file, before SQLite sees it. */
function inspectFile(file: string): void {
  const dir = dirname(file);
  try {
    // Readable by this user only: jobs hold tool arguments and results.
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (cause) {
    throw new AsyncToolsError(
      "STORE_IO",
      `Cannot create the directory ${dir} for the store ${file} (${codeOf(cause)}). Choose a store path in a writable directory.`,
      { cause },
    );
  }
  let size: number;
  try {
    const stat = statSync(file, { throwIfNoEntry: false });
    if (stat === undefined) {
      // Created here with mode 0600, so SQLite's journal files (which copy the mode) are private too. A process
      // started at the same moment may create it first: then it is that process's new store, and the lock decides.
      try {
        closeSync(openSync(file, "wx", 0o600));
      } catch (cause) {
        if ((cause as { code?: unknown }).code !== "EEXIST") throw cause;
      }
      return;
    }
    if (!stat.isFile()) throw new Error("it is not a regular file");
    size = stat.size;
  } catch (cause) {
    throw ioError(file, cause);
  }
  if (size === 0) return;
  const header = Buffer.alloc(SQLITE_MAGIC.length);
  let read = 0;
  try {
    const fd = openSync(file, "r");
    try {
      read = readSync(fd, header, 0, header.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch (cause) {
    throw ioError(file, cause);
  }
  if (read < header.length || !header.equals(SQLITE_MAGIC))
    throw corrupt(file, "it is not a SQLite database");
}

/** Whether the file has no tables yet; refuses a database that is not a store of this schema version. */
function checkSchema(db: DatabaseSync, file: string): boolean {
  const tables = (
    db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]
  ).map((row) => row.name);
  if (tables.length === 0) return true;
  if (!tables.includes("meta")) throw corrupt(file, "it is a SQLite database of another application");
  const rows = db.prepare("SELECT key, value FROM meta").all() as { key: string; value: string }[];
  const meta = new Map(rows.map((row) => [row.key, row.value]));
  if (meta.get("format") !== FORMAT) throw corrupt(file, "it is a SQLite database of another application");
  const version = meta.get("schema_version");
  if (version !== SCHEMA_VERSION) {
    throw corrupt(
      file,
      `its schema version is ${version ?? "missing"}, and this version reads ${SCHEMA_VERSION}`,
    );
  }
  return false;
}

function corrupt(file: string, why: string): AsyncToolsError {
  return new AsyncToolsError(
    "STORE_CORRUPT",
    `${file} is not an async-tools store: ${why}. It was left untouched; move it away or choose another store path.`,
  );
}

function ioError(file: string, cause: unknown): AsyncToolsError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new AsyncToolsError(
    "STORE_IO",
    `Cannot use the store ${file}: ${why}. Check that it is a readable, writable file in a writable directory.`,
    { cause },
  );
}

/** Maps an error from opening the file to what the user can do about it. */
export function toStoreError(file: string, error: unknown): AsyncToolsError {
  if (error instanceof AsyncToolsError) return error;
  const code = sqliteCode(error);
  if (code === 5 || code === 6) {
    return new AsyncToolsError(
      "STORE_LOCKED",
      `${file} is in use by another process (a second server on the same store?): stop it or use another store.`,
      { cause: error },
    );
  }
  if (code === 11 || code === 26) return corrupt(file, "SQLite reports it damaged or not a database");
  return ioError(file, error);
}

/** The primary SQLite result code of a `node:sqlite` error (BUSY = 5, CORRUPT = 11, NOTADB = 26, ...). */
function sqliteCode(error: unknown): number | undefined {
  const code = (error as { errcode?: unknown } | null)?.errcode;
  return typeof code === "number" ? code & 0xff : undefined;
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : String(error);
}

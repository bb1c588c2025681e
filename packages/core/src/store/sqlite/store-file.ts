/**
 * The store file: its schema, how it is opened (header and schema checked before the first write, the
 * lock taken by that first write), its prepared statements, and the errors that say what to do.
 */
import { closeSync, existsSync, mkdirSync, openSync, readSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { AsyncToolsError } from "../../errors.ts";
import { log } from "../../internal/log.ts";
import { checkCommits, checkWal, commitsOf, moveCommitsToHeader } from "./commit-mark.ts";

/**
 * The version of the tables below. A file of version 1, 2 or 3 is upgraded in place at open (logged); a file of
 * any other version is refused, never migrated silently.
 */
export const SCHEMA_VERSION = "4";
/** What the `meta` table says a store file is. */
export const FORMAT = "async-tools-resonate";
const SQLITE_MAGIC = Buffer.from("SQLite format 3\0", "latin1");
/**
 * WAL pages between automatic checkpoints (SQLite's default is 1,000). A checkpoint copies the WAL into
 * the file and syncs it, inside the commit that crosses the mark, on the event loop; at 1,000 pages it was
 * up to two thirds of the commit time with 32 submitters. 8,192 pages copies each hot index page once per
 * 8x more commits: three-step throughput with 32 submitters +8% (median of 5 interleaved pairs, 1-17%). A
 * restart after a crash reads that WAL back. Counted in pages, so at {@link PAGE_BYTES} the WAL holds 16 MB
 * at most (32 MB in a file made with 4 KB pages).
 */
const WAL_CHECKPOINT_PAGES = 8192;
/**
 * The page size of a new store file (SQLite's default is 4,096; a file keeps the size it was made with).
 * A commit writes every page it changes whole into the WAL, and the checkpoint syncs those bytes; a job
 * changes mostly one small entry per page, so smaller pages write and sync less: 28.8 KB per no-op job
 * against 49.1 KB at 4 KB pages (docs/performance.md). 1 KB pages wrote 18.4 KB but were no faster, and
 * would spill rows over 1 KB into overflow pages.
 */
const PAGE_BYTES = 2048;

/** The length of a WAL of {@link WAL_CHECKPOINT_PAGES} frames of `pageBytes` (a 32-byte header, 24 per frame). */
function walBytes(pageBytes: number): number {
  return 32 + WAL_CHECKPOINT_PAGES * (24 + pageBytes);
}

/**
 * A promise's id does not start with the value of `column` and a colon. The SDK names a job's steps that way
 * (`job:0`), and they are most of the rows: the branch and lineage indexes keep only the other promises, and
 * the prefixed ones are read by a range of the id index, beside their job's own entry. Each step, committed
 * on its own, wrote a page of both indexes (a random page: job ids are hashes); now a job writes neither.
 */
const unprefixed = (column: string) => `substr(id, 1, length(${column}) + 1) <> ${column} || ':'`;
/** `column` = `?1` for a promise whose id is `?1` and a colon, then anything (by a range of the id index). */
const prefixed = (column: string) => `id >= ?1 || ':' AND id < ?1 || ';' AND ${column} = ?1`;
const BRANCH_INDEX = `CREATE INDEX promises_branch ON promises (branch, seq) WHERE branch <> id AND ${unprefixed("branch")}`;
const ORIGIN_INDEX = `CREATE INDEX promises_origin ON promises (origin) WHERE origin <> id AND ${unprefixed("origin")}`;
/**
 * Tasks are keyed by their id alone (`WITHOUT ROWID`): a rowid table wrote its row and, on another page, its
 * id index; a task row (about 120 bytes) fits a key B-tree well. Promises keep their rowid: their 600-800 byte
 * bodies would spill out of a key B-tree's cells, and the retention sweep reads them in rowid order.
 */
const TASKS_TABLE = (name: string) =>
  `CREATE TABLE ${name} (id TEXT PRIMARY KEY, state TEXT NOT NULL, body TEXT NOT NULL) WITHOUT ROWID`;
const TIMEOUTS_TABLE = (name: string) => `CREATE TABLE ${name} (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    type INTEGER,
    timeout INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (id, kind)
  ) WITHOUT ROWID`;

/**
 * Indexes hold only what a reader needs: a root promise (the usual job: its id is its own origin and
 * branch) is found by its id, and its steps by a range of ids, so the lineage and branch indexes leave them
 * out and a job's commits touch neither. Timeouts are keyed by id first, so a job's promise and task
 * timeouts share a page.
 */
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
  ${BRANCH_INDEX};
  ${ORIGIN_INDEX};
  ${TASKS_TABLE("tasks")};
  CREATE TABLE schedules (id TEXT PRIMARY KEY, body TEXT NOT NULL);
  ${TIMEOUTS_TABLE("timeouts")};
`;

// Version 3 kept every promise of a branch or a lineage but its root in those indexes, its job's steps too.
const FROM_3 = `
  DROP INDEX promises_branch;
  DROP INDEX promises_origin;
  ${BRANCH_INDEX};
  ${ORIGIN_INDEX};
`;

// Version 2 kept tasks in a rowid table with an index on their id (two pages per task written), and the
// number of the last commit in a `meta` row (moved into the file's header: commit-mark.ts).
const FROM_2 = `
  ${TASKS_TABLE("tasks_v3")};
  INSERT INTO tasks_v3 (id, state, body) SELECT id, state, body FROM tasks;
  DROP TABLE tasks;
  ALTER TABLE tasks_v3 RENAME TO tasks;
`;

/** Each upgrade from a version to the current one, run inside the transaction that opens the file. */
const UPGRADES: Record<string, string> = {
  // Version 1 indexed every promise by origin and branch (replaced as version 3's are), settled roots by time
  // (now a scan in creation order), and unfulfilled tasks (now found through pending promises); its timeouts
  // were keyed by kind.
  "1": `
    DROP INDEX promises_settled_roots;
    DROP INDEX tasks_unfulfilled;
    ${TIMEOUTS_TABLE("timeouts_v2")};
    INSERT INTO timeouts_v2 (kind, id, type, timeout, seq) SELECT kind, id, type, timeout, seq FROM timeouts;
    DROP TABLE timeouts;
    ALTER TABLE timeouts_v2 RENAME TO timeouts;
    ${FROM_2}
    ${FROM_3}
  `,
  "2": `${FROM_2} ${FROM_3}`,
  "3": FROM_3,
};

/**
 * `columns` of the promises of lineage `?1`: its members whose ids it prefixes by the id index, the others
 * through the origin index, then its root by id (a root is in neither index).
 */
const lineageOf = (columns: string) =>
  `SELECT ${columns} FROM promises WHERE ${prefixed("origin")}
   UNION ALL SELECT ${columns} FROM promises WHERE origin = ?1 AND origin <> id AND ${unprefixed("origin")}
   UNION ALL SELECT ${columns} FROM promises WHERE id = ?1 AND origin = ?1`;

/** The prepared statements of an open store file. */
export type Statements = ReturnType<typeof prepare>;

/** Prepares every statement the store runs. */
export function prepare(db: DatabaseSync) {
  const statement = (sql: string): StatementSync => db.prepare(sql);
  return {
    // A promise and its task, if any, in one statement: what a request naming a settled promise loads.
    getPromiseAndTask: statement(
      "SELECT promises.body AS body, tasks.body AS task FROM promises LEFT JOIN tasks ON tasks.id = promises.id WHERE promises.id = ?",
    ),
    getTask: statement("SELECT body FROM tasks WHERE id = ?"),
    // Members whose ids the branch prefixes, by the id index; the others by the branch index; the branch's
    // root (its id is the branch) by id.
    branch: statement(
      `SELECT id, body, seq FROM promises WHERE ${prefixed("branch")}
       UNION ALL SELECT id, body, seq FROM promises WHERE branch = ?1 AND branch <> id AND ${unprefixed("branch")}
       UNION ALL SELECT id, body, seq FROM promises WHERE id = ?1 AND branch = ?1
       ORDER BY seq`,
    ),
    pendingPromises: statement("SELECT body FROM promises WHERE state = 'pending' ORDER BY seq"),
    // Settling a promise fulfils its task (the SDK's triggerFulfilled), so every unfulfilled task is the
    // task of a pending promise: no index of its own to keep up on every commit.
    unfulfilledTasks: statement(
      `SELECT tasks.body FROM promises JOIN tasks ON tasks.id = promises.id
       WHERE promises.state = 'pending' AND tasks.state <> 'fulfilled' ORDER BY promises.seq`,
    ),
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
       ON CONFLICT (id, kind) DO UPDATE SET type = excluded.type, timeout = excluded.timeout`,
    ),
    deleteTimeout: statement("DELETE FROM timeouts WHERE kind = ? AND id = ?"),
    // Promises in creation order (rowids only grow), for the retention sweep: it stops at the first one
    // created after its cutoff, as nothing later can have settled before it.
    promisesAfter: statement(
      `SELECT rowid AS at, id, state, origin, created_at, settled_at FROM promises
       WHERE rowid > ? ORDER BY rowid LIMIT ?`,
    ),
    lineage: statement(lineageOf("id, state")),
    deleteLineageTimeouts: statement(
      `DELETE FROM timeouts WHERE kind IN ('p', 't') AND id IN (${lineageOf("id")})`,
    ),
    deleteLineageTasks: statement(`DELETE FROM tasks WHERE id IN (${lineageOf("id")})`),
    deleteLineagePromises: statement(`DELETE FROM promises WHERE id IN (${lineageOf("id")})`),
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
 * Opens `file` as a store, or refuses it without writing a byte: the header, the schema and the count of
 * commits (commit-mark.ts) are checked before the first write, and the lock is taken by that first write.
 */
export function openDatabase(file: string, lockWaitMs: number): DatabaseSync {
  // A store deleted on purpose (its mark left behind) starts anew; one that exists must hold its commits.
  const existed = file !== ":memory:" && existsSync(file);
  if (file !== ":memory:") {
    inspectFile(file);
    try {
      if (existed) checkWal(file, lockWaitMs);
    } catch (error) {
      throw toStoreError(file, error);
    }
  }
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
    const found = checkSchema(db, file);
    // Before any write; closing this connection leaves a store without a WAL as it was.
    if (existed) checkCommits(file, commitsOf(db));
    // Only before the first write: a file keeps the page size it was made with.
    if (found === "new" && file !== ":memory:") db.exec(`PRAGMA page_size = ${PAGE_BYTES}`);
    if (file !== ":memory:") {
      const { journal_mode: mode } = db.prepare("PRAGMA journal_mode = WAL").get() as {
        journal_mode: string;
      };
      if (mode !== "wal") throw new Error(`the file cannot be switched to WAL mode (it stays "${mode}")`);
      db.exec(`PRAGMA wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`);
      // A WAL that a large transaction grew past the checkpoint mark shrinks back to it, no further (see checkpoint).
      const { page_size: pageBytes } = db.prepare("PRAGMA page_size").get() as { page_size: number };
      db.exec(`PRAGMA journal_size_limit = ${walBytes(pageBytes)}`);
    }
    // Commits never sync on the event loop: `durability: "full"` syncs the WAL off it (group-sync.ts).
    db.exec("PRAGMA synchronous = NORMAL");
    db.exec("BEGIN IMMEDIATE");
    try {
      if (found === "new") {
        db.exec(SCHEMA);
        db.prepare("INSERT INTO meta (key, value) VALUES ('format', ?), ('schema_version', ?)").run(
          FORMAT,
          SCHEMA_VERSION,
        );
      } else if (found !== "current") {
        db.exec(UPGRADES[found] as string);
        moveCommitsToHeader(db);
        db.prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'").run(SCHEMA_VERSION);
      }
      db.exec("COMMIT");
    } catch (error) {
      rollback(db);
      throw error;
    }
    if (found !== "new" && found !== "current") {
      log("info", "store upgraded to a new schema version", {
        store: file,
        from: found,
        to: SCHEMA_VERSION,
      });
    }
    return db;
  } catch (error) {
    db.close();
    throw toStoreError(file, error);
  }
}

/**
 * Copies the WAL into the store file and has the next commit write the WAL from its start again, so what only
 * the WAL holds stays bounded in time as well as in size ({@link WAL_CHECKPOINT_PAGES}). The store holds its
 * file alone (exclusive locking), so no reader can hold the checkpoint back.
 *
 * The WAL keeps its length (RESTART, not TRUNCATE): a commit then overwrites blocks the file already has, and
 * the sync of `durability: "full"` writes only those, where a commit that grows the file also makes the file
 * system commit its journal for the new length (about 0.1 ms more per sync on this project's test machine).
 */
export function checkpoint(db: DatabaseSync): void {
  db.exec("PRAGMA wal_checkpoint(RESTART)");
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

/**
 * What the file holds: no tables yet (`"new"`), this schema version (`"current"`), or an older version this
 * one upgrades (that version). Refuses a database that is not a store, or of a version it cannot read.
 */
function checkSchema(db: DatabaseSync, file: string): string {
  const tables = (
    db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]
  ).map((row) => row.name);
  if (tables.length === 0) return "new";
  if (!tables.includes("meta")) throw corrupt(file, "it is a SQLite database of another application");
  const rows = db.prepare("SELECT key, value FROM meta").all() as { key: string; value: string }[];
  const meta = new Map(rows.map((row) => [row.key, row.value]));
  if (meta.get("format") !== FORMAT) throw corrupt(file, "it is a SQLite database of another application");
  const version = meta.get("schema_version");
  if (version === SCHEMA_VERSION) return "current";
  if (version !== undefined && Object.hasOwn(UPGRADES, version)) return version;
  throw corrupt(
    file,
    `its schema version is ${version ?? "missing"}, and this version reads ${[...Object.keys(UPGRADES), SCHEMA_VERSION].join(" and ")}`,
  );
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

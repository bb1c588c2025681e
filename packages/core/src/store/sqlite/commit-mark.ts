/**
 * The commit mark: a small file beside the store, `<store>-commits`, that holds the number of the last commit
 * the store acknowledged. The same number is written inside each commit, so a store that opens with a lower
 * number lost acknowledged commits (a damaged, truncated or deleted WAL, which SQLite replays silently only up
 * to the damage) and is refused instead of starting without them.
 */
import {
  closeSync,
  constants,
  existsSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { AsyncToolsError } from "../../errors.ts";
import { log } from "../../internal/log.ts";

/**
 * The file keeps the number of its last commit in its header (`PRAGMA user_version`, on page 1, which a
 * commit that grows the file writes anyway), not in a row whose page every commit would write too. That
 * field holds a signed 32-bit integer, so the number is kept modulo 2^31 there: a damaged WAL loses at most
 * the commits since the last checkpoint (every 30 s or 8,192 pages), far fewer than 2^30, so the distance
 * between the mark and the file, modulo 2^31, tells a loss from a wrap.
 */
export const COMMIT_MODULUS = 2 ** 31;

/** Width of the mark's one line: every write covers the whole of the previous one. */
const WIDTH = 24;

/** The mark file of the store file `file`. */
export function markPath(file: string): string {
  return `${file}-commits`;
}

/**
 * Refuses the store file `file` with `STORE_CORRUPT` when its WAL lost commits its mark says were acknowledged,
 * before anything opens it for writing. Only a store with a WAL is read here, through a read-only connection,
 * which never checkpoints or deletes that WAL, so a refused store is left exactly as it was found (a store
 * without one is checked by its own connection: {@link checkCommits}). Errors of SQLite itself (a store
 * another process holds, a damaged file) are thrown as they are, for the caller to map.
 */
export function checkWal(file: string, lockWaitMs: number): void {
  const mark = readMark(file);
  if (mark === undefined || mark === 0) return;
  // Without a WAL, a read-only connection would make an empty one, which this process cannot safely remove
  // again (another process may be opening the store meanwhile).
  if (!(statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0)) return;
  // It also makes a shared-memory index, which no store uses (they hold their file in exclusive mode).
  const shm = `${file}-shm`;
  const hadShm = existsSync(shm);
  let found: number;
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(file, { readOnly: true });
    db.exec(`PRAGMA busy_timeout = ${Math.round(lockWaitMs)}`);
    found = commitsOf(db);
  } finally {
    db?.close();
    if (!hadShm) rmSync(shm, { force: true });
  }
  checkCommits(file, found);
}

/** Refuses the store file `file` with `STORE_CORRUPT` when it holds `found` commits and its mark says more. */
export function checkCommits(file: string, found: number): void {
  const mark = readMark(file);
  if (mark === undefined) return;
  const lost = (((mark - found) % COMMIT_MODULUS) + COMMIT_MODULUS) % COMMIT_MODULUS;
  if (lost === 0 || lost >= COMMIT_MODULUS / 2) return;
  throw new AsyncToolsError(
    "STORE_CORRUPT",
    `${file} holds ${found} of the ${mark} commits it acknowledged: its WAL (${file}-wal) is damaged, truncated or missing (a power loss with durability "normal", or a file damaged or deleted), and the work of its last ${lost} commits (jobs started, steps finished) is lost. The files were left untouched. Restore the store and its WAL from a backup, or, to start with what the store holds, delete ${markPath(file)}.`,
  );
}

/**
 * The number of the last commit `db` holds (see {@link writeCommits}): 0 for a new file or a file whose
 * tables were lost with its WAL. A file of schema version 2 or older kept it in a `meta` row.
 */
export function commitsOf(db: DatabaseSync): number {
  const meta = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get();
  if (meta === undefined) return 0;
  const row = db.prepare("SELECT value FROM meta WHERE key = 'commits'").get() as
    | { value: string }
    | undefined;
  if (row !== undefined) return Number(row.value);
  return (db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version;
}

/** Records, inside the open transaction, that it is commit number `commits` (kept modulo {@link COMMIT_MODULUS}). */
export function writeCommits(db: DatabaseSync, commits: number): void {
  // A pragma takes no bound parameter; the value is an integer this module computes.
  db.exec(`PRAGMA user_version = ${commits % COMMIT_MODULUS}`);
}

/** Moves the number a file of schema version 2 or older kept in a `meta` row into its header, in the open transaction. */
export function moveCommitsToHeader(db: DatabaseSync): void {
  const row = db.prepare("SELECT value FROM meta WHERE key = 'commits'").get() as
    | { value: string }
    | undefined;
  if (row === undefined) return;
  writeCommits(db, Number(row.value));
  db.exec("DELETE FROM meta WHERE key = 'commits'");
}

/** The number the mark of `file` holds, or `undefined` when there is none (or it cannot be read). */
function readMark(file: string): number | undefined {
  try {
    const value = Number.parseInt(readFileSync(markPath(file), "utf8"), 10);
    return Number.isSafeInteger(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Writes each acknowledged commit's number into the mark, after that commit and before its answers leave.
 * Not synced: a crash of the process keeps it (the OS holds it), and after a power loss a mark that got
 * further than the WAL is the loss being reported.
 */
export class CommitMark {
  private readonly fd: number;
  private readonly path: string;
  private readonly line = Buffer.alloc(WIDTH);
  private warned = false;

  /** Opens (or creates, private) the mark of the store file `file`, and records that it holds `commits`. */
  constructor(file: string, commits: number) {
    this.path = markPath(file);
    // Not truncated at open: the mark always says something, even if this process dies at once.
    this.fd = openSync(this.path, constants.O_WRONLY | constants.O_CREAT, 0o600);
    this.write(commits);
  }

  /**
   * Records that commit `commits` was acknowledged. Never throws: the commit is done, and a mark left behind
   * only weakens the check (the next open compares with an older number).
   */
  write(commits: number): void {
    this.line.fill(0x20);
    this.line.write(String(commits), "latin1");
    this.line[WIDTH - 1] = 0x0a;
    try {
      writeSync(this.fd, this.line, 0, WIDTH, 0);
    } catch (error) {
      if (!this.warned) log("warn", "cannot update the store's commit mark", { mark: this.path, error });
      this.warned = true;
    }
  }

  /** Closes the mark's file. */
  close(): void {
    closeSync(this.fd);
  }
}

/**
 * Persistence: every entity a batch of requests touched is written whole, with the timeout rows and the rows
 * of the library's own tables that ride along, in one transaction; each commit is numbered, in the file and
 * in its mark (commit-mark.ts), and the WAL is synced ahead of checkpoints (wal-sync.ts) or, with
 * `durability: "full"`, before the answers of each commit (group-sync.ts).
 */
import type { DatabaseSync } from "node:sqlite";
import { log } from "../../internal/log.ts";
import { CommitMark, commitsOf, writeCommits } from "./commit-mark.ts";
import { type AfterSync, GroupSync } from "./group-sync.ts";
import {
  type Change,
  originOf,
  type ProtocolServer,
  promiseBody,
  removesNothing,
  taskBody,
} from "./sdk-internals.ts";
import { checkpoint, rollback, type Statements } from "./store-file.ts";
import type { WalSync } from "./wal-sync.ts";

/** Rows of another table written inside the store's commits ({@link Persistence.alsoInCommit}). */
export interface CommitHook {
  write: () => void;
  rolledBack?: () => void;
  /** Whether the hook has rows waiting: a transaction is committed for them even with no other change. */
  pending?: () => boolean;
}

/** What {@link Persistence} writes from and to. */
export interface PersistenceOptions {
  /** The store file (absolute), or `":memory:"`. */
  path: string;
  server: ProtocolServer;
  /** The open file's connection and statements; they throw `CLOSED` when the file is not open. */
  db: () => DatabaseSync;
  statements: () => Statements;
  /** Syncs the WAL ahead of checkpoints; none where commits sync anyway (`full`) or there is no file. */
  walSync: WalSync | undefined;
  /** Whether answers wait for the WAL's sync of their commit (`durability: "full"` on a file). */
  groupSync: boolean;
}

/** Writes the changes of applied requests to the store file, one transaction per call. */
export class Persistence {
  /** The seq the next new row gets (its place in the server's maps and arrays). */
  seq = 1;
  private readonly path: string;
  private readonly server: ProtocolServer;
  private readonly database: () => DatabaseSync;
  private readonly statements: () => Statements;
  private readonly walSync: WalSync | undefined;
  private readonly hooks: CommitHook[] = [];
  /** The number of the last commit, in the file and in its mark (commit-mark.ts). */
  private commits = 0;
  private checkpointed = 0;
  private mark: CommitMark | undefined;
  private readonly syncs: boolean;
  private groupSync: GroupSync | undefined;

  constructor(options: PersistenceOptions) {
    this.path = options.path;
    this.server = options.server;
    this.database = options.db;
    this.statements = options.statements;
    this.walSync = options.walSync;
    this.syncs = options.groupSync;
  }

  private get db(): DatabaseSync {
    return this.database();
  }

  private get sql(): Statements {
    return this.statements();
  }

  /** Reads the commit count of the file just opened, and opens its mark. */
  opened(db: DatabaseSync): void {
    this.commits = commitsOf(db);
    this.checkpointed = this.commits;
    if (this.path !== ":memory:") this.mark = new CommitMark(this.path, this.commits);
    // The mark follows the syncs, so after a power loss it never claims more than the WAL kept.
    if (this.syncs)
      this.groupSync = new GroupSync(this.path, this.commits, (commit) => this.mark?.write(commit));
  }

  /** Closes the mark with the file (call {@link Persistence.syncNow} first). */
  closed(): void {
    this.groupSync?.close();
    this.groupSync = undefined;
    this.mark?.close();
    this.mark = undefined;
  }

  /**
   * Runs `run` once every commit made so far is on disk: at once without group sync. `alone`: see
   * {@link GroupSync.after} (the sync may then run on the event loop, and `run` before this returns).
   */
  afterDurable(run: AfterSync, alone = false): void {
    if (this.groupSync === undefined) run();
    else this.groupSync.after(this.commits, run, alone);
  }

  /**
   * Syncs every commit made so far on this thread (the synchronous paths: timeouts, a request applied alone,
   * closing); nothing without group sync.
   *
   * @throws what the sync throws.
   */
  syncNow(): void {
    this.groupSync?.syncNow(this.commits);
  }

  /** Writes `hook`'s rows inside every commit from now on (see SqliteNetwork.alsoInCommit). */
  alsoInCommit(hook: CommitHook): void {
    this.hooks.push(hook);
  }

  /**
   * Writes, in one transaction, the whole entities the changes name (read back from the maps: change
   * records leave out callbacks, listeners and resumes) and the timeout rows, each written once with what
   * the commit left of it (a removal of a due time that was never there writes nothing).
   */
  persist(changes: Change[], reset: boolean): void {
    const promiseIds = new Set<string>();
    const taskIds = new Set<string>();
    const scheduleIds = new Set<string>();
    const timeouts = new Map<string, TimeoutRow>();
    for (const change of changes) {
      switch (change.kind) {
        case "promise.set":
          promiseIds.add(change.promise.id);
          break;
        case "task.set":
          taskIds.add(change.task.id);
          break;
        case "schedule.set":
          scheduleIds.add(change.schedule.id);
          break;
        case "schedule.del":
          scheduleIds.add(change.id);
          break;
        case "message.send":
          break;
        case "ptimeout.set":
        case "stimeout.set":
          this.setTimeout(
            timeouts,
            change.kind[0] as "p" | "s",
            change.timeout.id,
            null,
            change.timeout.timeout,
          );
          break;
        case "ttimeout.set":
          this.setTimeout(timeouts, "t", change.timeout.id, change.timeout.type, change.timeout.timeout);
          break;
        default:
          if (!removesNothing(change)) deleteTimeout(timeouts, change.kind[0] as "p" | "t" | "s", change.id);
      }
    }
    if (
      !reset &&
      promiseIds.size + taskIds.size + scheduleIds.size + timeouts.size === 0 &&
      !this.hooks.some((hook) => hook.pending?.() === true)
    ) {
      return;
    }

    const db = this.db;
    const sql = this.sql;
    const { promises, tasks, schedules } = this.server;
    const wrote: CommitHook[] = [];
    db.exec("BEGIN");
    try {
      if (reset)
        db.exec("DELETE FROM promises; DELETE FROM tasks; DELETE FROM schedules; DELETE FROM timeouts;");
      // Promises first seen here get increasing seqs in change order, which is the server's map order.
      for (const id of promiseIds) {
        const p = promises.get(id);
        if (p === undefined) continue;
        const body = promiseBody(p);
        const origin = p.tags["resonate:origin"] ?? originOf(p.id);
        const branch = p.tags["resonate:branch"] ?? null;
        sql.putPromise.run(id, this.seq++, p.state, origin, branch, p.createdAt, p.settledAt, body);
      }
      for (const id of taskIds) {
        const t = tasks.get(id);
        if (t !== undefined) sql.putTask.run(id, t.state, taskBody(t));
      }
      for (const id of scheduleIds) {
        const s = schedules.get(id);
        if (s === undefined) sql.deleteSchedule.run(id);
        else sql.putSchedule.run(id, JSON.stringify(s));
      }
      for (const row of timeouts.values()) {
        if (row.deleteFirst) sql.deleteTimeout.run(row.kind, row.id);
        if (row.set !== undefined)
          sql.putTimeout.run(row.kind, row.id, row.set.type, row.set.timeout, row.set.seq);
      }
      for (const hook of this.hooks) {
        hook.write();
        wrote.push(hook);
      }
      writeCommits(db, this.commits + 1);
      db.exec("COMMIT");
    } catch (error) {
      rollback(db);
      for (const hook of wrote) hook.rolledBack?.();
      throw error;
    }
    this.commits++;
    // With group sync the mark is written once the commit is synced.
    if (this.groupSync === undefined) this.mark?.write(this.commits);
    // Rows the hooks wrote are not counted; a commit of theirs alone still counts as one.
    this.walSync?.committed(Math.max(1, promiseIds.size + taskIds.size + scheduleIds.size + timeouts.size));
  }

  /**
   * Notes a set of the due time `kind`/`id` in `rows`: a row first set in this commit takes the next seq (its
   * place in the server's list, last), a row set again keeps its place and takes the new time.
   */
  private setTimeout(
    rows: Map<string, TimeoutRow>,
    kind: "p" | "t" | "s",
    id: string,
    type: number | null,
    timeout: number,
  ): void {
    const row = timeoutRow(rows, kind, id);
    if (row.set === undefined) row.set = { type, timeout, seq: this.seq++ };
    else Object.assign(row.set, { type, timeout });
  }

  /** Checkpoints the WAL when anything was committed since the last time. */
  checkpoint(): void {
    if (this.commits === this.checkpointed) return;
    try {
      checkpoint(this.db);
      this.checkpointed = this.commits;
    } catch (error) {
      log("warn", "store checkpoint failed; retried at the next interval", { store: this.path, error });
    }
  }
}

/**
 * What one commit does to one due time, however many times its requests set and removed it: the file's row
 * is deleted first (it was removed, and maybe set again in a new place), then written with its last time.
 * A row only set keeps the seq the file gave it (an upsert), as the server's list keeps its place.
 */
interface TimeoutRow {
  kind: "p" | "t" | "s";
  id: string;
  deleteFirst: boolean;
  set: { type: number | null; timeout: number; seq: number } | undefined;
}

function timeoutRow(rows: Map<string, TimeoutRow>, kind: "p" | "t" | "s", id: string): TimeoutRow {
  const key = `${kind}\u0000${id}`;
  let row = rows.get(key);
  if (row === undefined) {
    row = { kind, id, deleteFirst: false, set: undefined };
    rows.set(key, row);
  }
  return row;
}

function deleteTimeout(rows: Map<string, TimeoutRow>, kind: "p" | "t" | "s", id: string): void {
  const row = timeoutRow(rows, kind, id);
  row.deleteFirst = true;
  row.set = undefined;
}

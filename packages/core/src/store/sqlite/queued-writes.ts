/**
 * Writes to the library's own tables (the job index, the step log) on the store's SQLite connection, off the
 * caller's path: queued, then written inside the store's own transaction when it commits in time (riding
 * along), or in a transaction of their own when the store has nothing to commit.
 */
import type { DatabaseSync } from "node:sqlite";

/** What queued writes need of the store network that commits on their connection (`SqliteNetwork`). */
export interface StoreCommits {
  alsoInCommit(write: () => void, rolledBack?: () => void, pending?: () => boolean): void;
  committingSoon(): boolean;
}

/** How {@link QueuedWrites} waits before writing by itself. */
export interface QueuedWritesOptions {
  /**
   * `"turn"`: at the end of this turn of the event loop. `"timer"`: after a 0 ms timer, so that a commit the
   * store starts in the next turn (a job's next request after the one that queued the write) can take them.
   * Either way a store commit that is due by then takes them instead.
   */
  wait: "turn" | "timer";
  /** Called with what failed when writing quietly (riding along, or on the fallback); must not throw. */
  failed(error: unknown): void;
}

/** A queue of writes that ride along in the store's transactions, or commit by themselves. */
export class QueuedWrites {
  private readonly db: DatabaseSync;
  private readonly commits: StoreCommits | undefined;
  private readonly options: QueuedWritesOptions;
  private readonly queue: (() => void)[] = [];
  /** The writes made inside the store's open transaction, queued again if it is rolled back. */
  private riding: (() => void)[] = [];
  private scheduled: NodeJS.Immediate | NodeJS.Timeout | undefined;
  private stopped = false;

  /** With `commits` (the store network on `db`), queued writes go into its transactions when it commits. */
  constructor(db: DatabaseSync, commits: StoreCommits | undefined, options: QueuedWritesOptions) {
    this.db = db;
    this.commits = commits;
    this.options = options;
    commits?.alsoInCommit(
      () => this.ride(),
      () => this.requeue(),
      () => this.queue.length > 0,
    );
  }

  /** Whether writes are waiting (neither written nor riding in an open transaction). */
  get pending(): boolean {
    return this.queue.length > 0;
  }

  /** Queues `write`; after {@link QueuedWrites.stop} it is dropped. */
  add(write: () => void): void {
    if (this.stopped) return;
    this.queue.push(write);
    this.schedule();
  }

  /**
   * Writes what is queued now, in one transaction of its own.
   *
   * @throws what SQLite throws; the writes are then rolled back and dropped.
   */
  flush(): void {
    this.cancel();
    const writes = this.queue.splice(0);
    if (writes.length === 0 || this.stopped) return;
    this.db.exec("BEGIN");
    try {
      for (const write of writes) write();
      this.db.exec("COMMIT");
    } catch (error) {
      if (this.db.isTransaction) this.db.exec("ROLLBACK");
      throw error;
    }
  }

  /** {@link QueuedWrites.flush}, reporting a failure to `failed` instead of throwing. */
  flushQuietly(): void {
    try {
      this.flush();
    } catch (error) {
      this.options.failed(error);
    }
  }

  /** Drops every write from now on (the connection is closing). */
  stop(): void {
    this.stopped = true;
    this.cancel();
  }

  private schedule(): void {
    if (this.scheduled !== undefined) return;
    const fallback = () => {
      this.scheduled = undefined;
      // A store commit is due (the job's next request, usually): the writes go into it.
      if (this.commits?.committingSoon() === true) return;
      this.flushQuietly();
    };
    this.scheduled = this.options.wait === "timer" ? setTimeout(fallback, 0) : setImmediate(fallback);
  }

  private cancel(): void {
    if (this.scheduled === undefined) return;
    clearImmediate(this.scheduled as NodeJS.Immediate);
    clearTimeout(this.scheduled as NodeJS.Timeout);
    this.scheduled = undefined;
  }

  /** Runs the queued writes inside the store's open transaction. */
  private ride(): void {
    const writes = this.queue.splice(0);
    this.riding = writes;
    if (this.stopped) return;
    try {
      for (const write of writes) write();
    } catch (error) {
      this.riding = [];
      this.options.failed(error);
    }
  }

  /** The store's transaction that took the riding writes was rolled back: they go first into a later one. */
  private requeue(): void {
    const writes = this.riding.splice(0);
    if (writes.length === 0 || this.stopped) return;
    this.queue.unshift(...writes);
    this.schedule();
  }
}

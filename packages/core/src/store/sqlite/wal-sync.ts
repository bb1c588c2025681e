/**
 * Keeps the store's WAL synced in the background, so the checkpoint SQLite runs inside a commit on the
 * event loop finds the WAL's pages on disk already and stalls that commit for less.
 */
import { close, fsync, open } from "node:fs";

/**
 * Rows committed between two background syncs of the WAL. A no-op job commits about 9 rows and 29 KB of
 * WAL, so 1,000 rows are about 3 MB, a fifth of the WAL a checkpoint copies (8,192 pages of 2 KB, see
 * `store-file.ts`): the checkpoint's own sync then finds at most about that much unsynced.
 */
export const WAL_SYNC_EVERY_ROWS = 1000;

/**
 * Syncs `<store>-wal` from libuv's thread pool every {@link WAL_SYNC_EVERY_ROWS} committed rows, at most
 * one sync at a time. With `synchronous = NORMAL` a commit only writes the WAL; the checkpoint (every
 * 8,192 pages) then syncs the whole WAL before copying it into the file, and that sync was most of a
 * 10-30 ms stall of the commit that crossed the mark. Durability is unchanged: this only syncs earlier
 * what the checkpoint syncs anyway.
 *
 * It opens the WAL file, never the database file: closing a descriptor of a file drops every POSIX lock
 * this process holds on it, and the store's lock is on the database file (the WAL carries none).
 */
export class WalSync {
  private readonly wal: string;
  private rows = 0;
  private syncing = false;

  /** Syncs the WAL of the store file `file`. */
  constructor(file: string) {
    this.wal = `${file}-wal`;
  }

  /**
   * Counts `rows` just committed; starts a background sync when enough have been since the last one and
   * returns its end (which never rejects), else `undefined`.
   */
  committed(rows: number): Promise<void> | undefined {
    this.rows += rows;
    if (this.rows < WAL_SYNC_EVERY_ROWS || this.syncing) return undefined;
    this.rows = 0;
    this.syncing = true;
    return new Promise((resolve) => {
      const done = () => {
        this.syncing = false;
        resolve();
      };
      // Errors are left to the checkpoint, which syncs the same file and reports through its commit.
      open(this.wal, "r", (error, fd) => {
        if (error) return done();
        fsync(fd, () => close(fd, done));
      });
    });
  }
}

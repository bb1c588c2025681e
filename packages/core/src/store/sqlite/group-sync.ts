/**
 * Group sync for `durability: "full"`: commits only write the WAL (as with `"normal"`), and one fsync of the
 * WAL, run on libuv's thread pool, makes every commit made before it started durable at once. Answers wait
 * for the sync that covers their commit; the event loop goes on applying and committing the next requests
 * meanwhile, so a sync is shared by every request of every turn that committed while the previous one ran.
 * A lone commit (its caller says so, and no sync is in flight or waited for) may be synced on the event loop
 * instead: nothing else is there to share it or to run meanwhile, and it saves the trip through the pool,
 * when that is faster on this machine ({@link LonePlacement}).
 */
import { channel } from "node:diagnostics_channel";
import { closeSync, fdatasync, fdatasyncSync, openSync } from "node:fs";

/**
 * The diagnostics channel each sync of a store's WAL is published on ({@link SyncEvent}), for benchmarks and
 * tests that count syncs: nothing is built when no one subscribes.
 */
export const SYNC_CHANNEL = "async-tools:sqlite:sync";

/** What {@link SYNC_CHANNEL} says of one sync. */
export interface SyncEvent {
  /** The WAL synced. */
  wal: string;
  /** The commits it made durable. */
  commits: number;
  /** Whether it ran on the event loop (blocking it) rather than on libuv's thread pool. */
  onLoop: boolean;
}

const syncs = channel(SYNC_CHANNEL);

/** Lone syncs between two tries of the place that measured slower ({@link LonePlacement}). */
export const LONE_SYNC_PROBE_EVERY = 16;

/** Recent lone syncs each place keeps the time of, and compares by their median. */
const LONE_SYNC_SAMPLES = 31;

/** Where a sync runs: on the event loop, or on libuv's thread pool. */
export type SyncPlace = "loop" | "pool";

/**
 * Where a lone commit's sync runs: where recent lone syncs took less time from their start to their waiters
 * running (the median of the last {@link LONE_SYNC_SAMPLES} of each place). Which place wins depends on the
 * machine. Idle, the event loop saves the pool's two thread wake-ups (a worker, then the loop). Busy, with
 * more runnable threads than cores, the loop's thread (which just used its share of the CPU) waits longer
 * for a core when the disk wakes it than an idle pool thread does: on a 2-core VM at load 9-10, a bare
 * write and `fdatasync` took 0.50-0.57 ms (p10) on the loop against 0.35-0.42 ms through the pool, hop
 * included. Every {@link LONE_SYNC_PROBE_EVERY}th lone sync runs at the other place, so both figures follow
 * the machine.
 */
export class LonePlacement {
  private readonly times: Record<SyncPlace, number[]> = { loop: [], pool: [] };
  private lone = 0;

  /** The place for the next lone sync: each place is tried three times first, the loop first. */
  next(): SyncPlace {
    this.lone++;
    const { loop, pool } = this.times;
    if (loop.length < 3) return "loop";
    if (pool.length < 3) return "pool";
    const faster: SyncPlace = median(loop) <= median(pool) ? "loop" : "pool";
    if (this.lone % LONE_SYNC_PROBE_EVERY !== 0) return faster;
    return faster === "loop" ? "pool" : "loop";
  }

  /** Notes that a lone sync at `place` took `ms` from its start to its waiters running. */
  took(place: SyncPlace, ms: number): void {
    const times = this.times[place];
    times.push(ms);
    if (times.length > LONE_SYNC_SAMPLES) times.shift();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.POSITIVE_INFINITY;
}

/** Runs once the commit it waits for is durable, or with the error that kept it from being synced. */
export type AfterSync = (error?: unknown) => void;

/**
 * Syncs `<store>-wal` for commits counted by the store (its commit number), at most one sync at a time, and
 * runs what waits on each commit, in commit order, once a sync that started after that commit is done.
 *
 * It opens the WAL file, never the database file: closing a descriptor of a file drops every POSIX lock this
 * process holds on it, and the store's lock is on the database file (the WAL carries none). SQLite's own
 * `synchronous = FULL` syncs the WAL inside each commit, on the event loop, once per commit; this is the same
 * sync, moved off the event loop and shared (a lone commit's stays on the loop where that is faster).
 */
export class GroupSync {
  private readonly wal: string;
  private readonly synced: (commit: number) => void;
  private fd: number | undefined;
  /** The last commit known to be on disk. */
  private durable = 0;
  /** The last commit a sync was asked for. */
  private wanted = 0;
  private running = false;
  private readonly waiting: { commit: number; run: AfterSync }[] = [];
  private readonly placement = new LonePlacement();
  /** How many syncs of the WAL were made, for tests and benchmarks. */
  syncs = 0;

  /**
   * Syncs the WAL of the store file `file`, whose commits up to `durable` are on disk already. `synced` is told
   * each commit number that became durable, before what waits on it runs (the store writes its commit mark).
   */
  constructor(file: string, durable: number, synced: (commit: number) => void) {
    this.wal = `${file}-wal`;
    this.durable = durable;
    this.wanted = durable;
    this.synced = synced;
  }

  /** The last commit known to be on disk. */
  get durableCommit(): number {
    return this.durable;
  }

  /**
   * Runs `run` once commit `commit` (already made) is durable: now when it is, else after a sync. `alone` says
   * the caller expects no other request to come while this commit is synced (its turn had at most a request
   * or two that wait). When no sync is in flight and nothing else waits, such a lone commit's sync may run
   * here, on the event loop, with `run` before this returns: it blocks the loop for one `fdatasync` (a
   * fraction of a millisecond on an idle disk) and saves the trip through the thread pool, where
   * {@link LonePlacement} finds that faster. Otherwise the sync runs on the thread pool, shared with every
   * commit made meanwhile.
   */
  after(commit: number, run: AfterSync, alone = false): void {
    if (commit <= this.durable) {
      run();
      return;
    }
    this.waiting.push({ commit, run });
    if (commit > this.wanted) this.wanted = commit;
    const lone = alone && !this.running && this.waiting.length === 1;
    if (lone && this.placement.next() === "loop") {
      const began = performance.now();
      if (this.syncHere(commit) === undefined) this.placement.took("loop", performance.now() - began);
    } else this.start(lone);
  }

  /**
   * Syncs now, on this thread, making every commit up to `commit` durable and running what waited on them.
   * For the store's synchronous paths (timeouts, a request applied alone, closing).
   *
   * @throws what the sync throws; what waited then runs with that error.
   */
  syncNow(commit: number): void {
    if (commit <= this.durable) return;
    const error = this.syncHere(commit);
    if (error !== undefined) throw error;
  }

  /** Closes the WAL's descriptor; call {@link GroupSync.syncNow} first for what is still waiting. */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private open(): number {
    // The WAL exists once anything was committed, and SQLite only truncates it while the store is open.
    this.fd ??= openSync(this.wal, "r");
    return this.fd;
  }

  /** Syncs on this thread for commits up to `commit`; returns the error what waited ran with, if any. */
  private syncHere(commit: number): unknown {
    if (commit > this.wanted) this.wanted = commit;
    try {
      fdatasyncSync(this.open());
      this.syncs++;
    } catch (caught) {
      const error = caught ?? new Error("the WAL could not be synced");
      this.fail(commit, error);
      return error;
    }
    this.published(commit, true);
    this.reached(commit);
    return undefined;
  }

  /**
   * Starts a sync for every commit asked for so far, unless one runs: then the next one takes them. `lone`:
   * the sync is for a lone commit, and its time is noted for {@link LonePlacement}.
   */
  private start(lone = false): void {
    if (this.running || this.wanted <= this.durable) return;
    const target = this.wanted;
    let fd: number;
    try {
      fd = this.open();
    } catch (error) {
      this.fail(target, error);
      return;
    }
    this.running = true;
    const began = performance.now();
    fdatasync(fd, (error) => {
      this.running = false;
      if (error) this.fail(target, error);
      else {
        if (lone) this.placement.took("pool", performance.now() - began);
        this.syncs++;
        this.published(target, false);
        this.reached(target);
      }
      this.start();
    });
  }

  private published(commit: number, onLoop: boolean): void {
    if (syncs.hasSubscribers && commit > this.durable)
      syncs.publish({ wal: this.wal, commits: commit - this.durable, onLoop } satisfies SyncEvent);
  }

  /** Commits up to `commit` are durable: tells the store, then runs what waited on them, in order. */
  private reached(commit: number): void {
    if (commit <= this.durable) return;
    this.durable = commit;
    this.synced(commit);
    this.drain(commit);
  }

  /** A sync for commits up to `commit` failed: what waited on them runs with `error`, and is not retried. */
  private fail(commit: number, error: unknown): void {
    this.drain(commit, error ?? new Error("the WAL could not be synced"));
    // Later commits still wait; the next sync is for them alone.
    this.wanted = Math.max(this.durable, this.waiting.at(-1)?.commit ?? 0);
  }

  private drain(commit: number, error?: unknown): void {
    let n = 0;
    while (n < this.waiting.length && (this.waiting[n]?.commit ?? Number.POSITIVE_INFINITY) <= commit) n++;
    for (const { run } of this.waiting.splice(0, n)) run(error);
  }
}

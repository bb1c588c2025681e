/**
 * Group commit: the requests of one event-loop turn, applied in RAM one after another as they came, are
 * committed together in one transaction at the end of the turn, and none is answered before that commit (with
 * `durability: "full"`, before the sync that covers it). A failed commit falls back to one commit per request,
 * so a request is refused only for its own writes.
 */
import type { Request, Response } from "@resonatehq/sdk";
import { AsyncToolsError } from "../../errors.ts";
import type { JobChange } from "../store.ts";
import type { AfterSync } from "./group-sync.ts";
import type { Uncommitted } from "./residency.ts";
import type { Change } from "./sdk-internals.ts";

/** A request applied in RAM whose answer waits for its batch's commit. */
interface Waiter {
  /** The request and its time, to apply it again alone when the batch's commit fails. */
  req: Request;
  now: number;
  response: Response;
  resolve: (response: Response) => void;
  reject: (error: unknown) => void;
}

/** The requests of one event-loop turn, with what they changed and loaded. */
interface Batch extends Uncommitted {
  waiters: Waiter[];
  changes: Change[];
}

/** What a batch's commit needs of the store (`SqliteNetwork`). */
export interface BatchStore {
  /** The store file, in error messages. */
  path: string;
  /** Commits `changes` in one transaction; throws when it cannot. */
  persist(changes: Change[]): void;
  /**
   * Runs `run` once every commit made so far is durable (at once without group sync); `alone`: no other
   * request is expected meanwhile, so the sync may run on the event loop (and `run` before this returns).
   */
  afterDurable(run: AfterSync, alone: boolean): void;
  /** Drops from RAM the settled entities a batch loaded, once it is committed. */
  evict(loaded: Iterable<string>, changes: Change[]): void;
  /** Reloads RAM from the file, dropping what was applied but not committed. */
  resync(): void;
  /** Applies `req` alone, with its own commit and sync: the fallback when a batch's commit fails. */
  applyAlone(now: number, req: Request): Response;
  /** The jobs `changes` touched, for the change feed; read before the batch's entities are evicted. */
  jobsOf(changes: Change[]): JobChange[];
  /** Delivers the messages of committed changes and tells the change feed of the `jobs` they touched. */
  dispatch(changes: Change[], jobs: JobChange[]): void;
  /** The error of a request committed but not synced. */
  syncError(cause: unknown): AsyncToolsError;
}

/**
 * The most requests waiting for their answer a batch may hold and still have its commit synced on the event
 * loop when no other sync is in flight (group-sync.ts): a lone caller's turn holds its own request and, at
 * most, the last request of the job its previous call started (a single submitter's start shares its commit
 * with the previous job's `task.fulfill`). More means several callers, and more requests are likely to come
 * while the disk syncs: their commit should overlap it, so the sync goes to the thread pool.
 */
export const ALONE_MAX_WAITING = 2;

/** The batch of the current turn and its commit at the end of the turn. */
export class Batching {
  private readonly store: BatchStore;
  private batch: Batch | undefined;
  private timer: NodeJS.Immediate | undefined;

  /** Commits through `store`. */
  constructor(store: BatchStore) {
    this.store = store;
  }

  /** What the pending batch applied but did not commit yet, if there is one. */
  get uncommitted(): Uncommitted | undefined {
    return this.batch;
  }

  /** Whether a batch waits for its commit at the end of this turn. */
  get pending(): boolean {
    return this.batch !== undefined;
  }

  /**
   * Adds a request applied in RAM at `now` (its `changes`, the ids it `loaded`, its `response`) to this turn's
   * batch; the promise settles once the batch is committed (and synced).
   */
  add(now: number, req: Request, changes: Change[], loaded: string[], response: Response): Promise<Response> {
    let batch = this.batch;
    if (batch === undefined) {
      batch = { waiters: [], changes: [], loaded: new Set(), promiseIds: new Set() };
      this.batch = batch;
      this.timer = setImmediate(() => this.flush());
    }
    for (const change of changes) {
      batch.changes.push(change);
      if (change.kind === "promise.set") batch.promiseIds.add(change.promise.id);
    }
    for (const id of loaded) batch.loaded.add(id);
    if (answersBeforeCommit(req, response)) {
      // Committed with its batch like any other; only the answer does not wait (see answersBeforeCommit).
      batch.waiters.push({ req, now, response, resolve: ignore, reject: ignore });
      return Promise.resolve(response);
    }
    const pending = batch;
    return new Promise<Response>((resolve, reject) => {
      pending.waiters.push({ req, now, response, resolve, reject });
    });
  }

  /**
   * Commits the pending batch in one transaction, then answers its requests and dispatches its messages.
   * When that commit fails, RAM is reloaded from the file and each request is applied again alone, in
   * order, with its own commit, as without batching: a request is refused only when its own writes fail,
   * never for sharing a turn with one that does. A read, or a small write that still fits on a full disk, is
   * answered; no caller gets an error for a request that was committed.
   */
  flush(): void {
    const batch = this.take();
    if (batch === undefined) return;
    const { store } = this;
    try {
      store.persist(batch.changes);
    } catch {
      store.resync();
      for (const waiter of batch.waiters) {
        try {
          waiter.resolve(store.applyAlone(waiter.now, waiter.req));
        } catch (error) {
          waiter.reject(error);
        }
      }
      return;
    }
    const jobs = store.jobsOf(batch.changes);
    // Requests that changed nothing wait too: what they read may be a commit not yet on disk.
    const synced = (error?: unknown) => {
      for (const waiter of batch.waiters) {
        if (error === undefined) waiter.resolve(waiter.response);
        else waiter.reject(store.syncError(error));
      }
      // Committed either way: what the requests set in motion goes on.
      store.dispatch(batch.changes, jobs);
    };
    const waiting = batch.waiters.filter((waiter) => waiter.resolve !== ignore).length;
    if (waiting > 0 && waiting <= ALONE_MAX_WAITING) {
      // The sync may run here and answer at once: RAM is settled first, as before any answer.
      store.evict(batch.loaded, batch.changes);
      store.afterDurable(synced, true);
      return;
    }
    store.afterDurable(synced, false);
    // Once the sync is on its way, so the disk works meanwhile (answers and messages go out in later ticks).
    store.evict(batch.loaded, batch.changes);
  }

  /** Fails every request of the pending batch with `cause` (their effects are dropped by a resync). */
  fail(cause: unknown): void {
    const batch = this.take();
    if (batch === undefined) return;
    const error = new AsyncToolsError(
      "STORE_IO",
      `The store ${this.store.path} dropped a request applied together with one that failed; retry it.`,
      { cause },
    );
    for (const waiter of batch.waiters) waiter.reject(error);
  }

  private take(): Batch | undefined {
    const batch = this.batch;
    this.batch = undefined;
    clearImmediate(this.timer);
    this.timer = undefined;
    return batch;
  }
}

function ignore(): void {}

/**
 * Whether `req` may be answered before its batch commits: a step's durable promise being created inside a
 * job (`task.fence` around a `promise.create`) that the store accepted. Nothing depends on that creation
 * being on disk: if the process dies before the commit, the job resumes without it and the step runs again,
 * exactly as when it dies while the step runs. The step's settlement, and so the promise that a finished
 * step never runs again, still waits for its commit. Answering at once lets a short step create, run and
 * settle in one transaction instead of two; its messages (a child task's `execute`) still go out only after
 * the commit.
 */
function answersBeforeCommit(req: Request, response: Response): boolean {
  if (req.kind !== "task.fence" || req.data.action.kind !== "promise.create") return false;
  const inner = (response.data as { action?: { head?: { status?: number } } } | undefined)?.action?.head
    ?.status;
  return response.head.status < 300 && inner !== undefined && inner < 300;
}

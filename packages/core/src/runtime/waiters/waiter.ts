/**
 * How an await waits for its jobs to settle, as `JobEngine.wait` sees it: one shape, with one implementation
 * per kind of store feed. On a complete feed the wait ends on the feed alone (`feed-waiter.ts`); otherwise on
 * the listeners it registers on the jobs' promises, the feed telling only of new questions (`listener-waiter.ts`).
 */
import type { ChangeFeed } from "../../store/store.ts";
import { ChangeWatch } from "../change-watch.ts";
import type { JobSnapshot } from "../job.ts";
import type { PromiseRecord } from "../promise-client.ts";

/** How a waiter reads jobs: with their results, in the scope of the caller that waits. */
export interface JobReads {
  /** The job `id` as the store holds it now. */
  now(id: string): Promise<JobSnapshot>;
  /**
   * The job `id` from its promise as read (`undefined`: the store has none); `progress: false` leaves the
   * progress of a pending job unread.
   */
  from(id: string, record: PromiseRecord | undefined, progress?: boolean): Promise<JobSnapshot>;
}

/** One kind of waiting, chosen by the engine for each wait. */
export interface Waiter {
  /**
   * Begins waiting for `jobs` (the unfinished ones, when the caller read them already: `readAlready`, so the
   * first round of changes looks at them all and nothing that changed in between slips by).
   */
  begin(jobs: readonly string[], reads: JobReads, readAlready: boolean): Waiting;
}

/** One wait, from its first read of the jobs to its last. */
export interface Waiting {
  /** The jobs `ids` as they are now; without `progress` a pending job's progress may be left unread. */
  read(ids: readonly string[], progress: boolean): Promise<JobSnapshot[]>;
  /** `snapshots` (what {@link read} gave) whole: what it left unread of a pending job is read now. */
  whole(snapshots: readonly JobSnapshot[]): Promise<JobSnapshot[]>;
  /** Resolves once the wait may end: every job of `pending` finished, or one of them asks a question. */
  until(pending: readonly string[]): Promise<void>;
  /**
   * The jobs of `snapshots` as the wait ends, after {@link close}: a finished job as it was, an unfinished one
   * as the wait heard it end, or else read again.
   */
  last(snapshots: readonly JobSnapshot[]): Promise<JobSnapshot[]>;
  /** Stops waiting: hears no more changes; listeners stay for the messages the store will send. */
  close(): void;
}

/**
 * The changes of `jobs` an await follows, all of them read again every `recheckMs` in case a notice was lost.
 * Any process may be running a job: its store is where a new question shows, and its feed says when. Watched
 * before the jobs are read (jobs the caller read are looked at once, `readAlready`), so no question slips by.
 */
export function watchJobs(
  feed: ChangeFeed | undefined,
  jobs: readonly string[],
  readAlready: boolean,
  recheckMs: number,
): ChangeWatch {
  const followed = new Set(jobs);
  return new ChangeWatch(feed, (id) => followed.has(id), { readAllFirst: readAlready, recheckMs });
}

/**
 * Resolves once `ends` says so of the jobs of `pending` a round of `changes` names; stays pending once the
 * watch is closed. `ends` failing counts as "not yet".
 */
export function untilChanged(
  changes: ChangeWatch,
  pending: readonly string[],
  ends: (changed: readonly string[]) => Promise<boolean>,
): Promise<void> {
  return new Promise((resolve) => {
    void (async () => {
      for (let changed = await changes.next(); changed !== undefined; changed = await changes.next()) {
        const named = changed === "all" ? pending : pending.filter((id) => changed.has(id));
        if (await ends(named).catch(() => false)) return resolve();
      }
    })();
  });
}

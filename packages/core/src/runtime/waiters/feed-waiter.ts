/**
 * Waiting on a complete change feed (the SQLite owner's store, the memory store): the feed tells of every
 * settle, or says "any", so a wait ends on it alone and registers no Resonate listener. A changed job is read
 * whole, with its result: a finished job does not change, so a read that found it finished is the answer, and
 * a wait whose jobs all finished ends without reading them again.
 */
import { DEFAULTS } from "../../defaults.ts";
import type { ChangeFeed } from "../../store/store.ts";
import type { ChangeWatch } from "../change-watch.ts";
import { isUnfinished, type JobSnapshot } from "../job.ts";
import { type JobReads, untilChanged, type Waiter, type Waiting, watchJobs } from "./waiter.ts";

/** The waiter of a store whose feed is complete (see `ChangeFeed.complete`). */
export class FeedWaiter implements Waiter {
  private readonly feed: ChangeFeed;
  private readonly recheckMs: number;

  /** `recheckMs`: how often a wait reads its jobs again anyway, in case a notice was lost. */
  constructor(feed: ChangeFeed, recheckMs: number = DEFAULTS.changeRecheckMs) {
    this.feed = feed;
    this.recheckMs = recheckMs;
  }

  /** Whether the feed is complete now: a joiner's becomes so when it takes the store over. */
  get complete(): boolean {
    return this.feed.complete === true;
  }

  begin(jobs: readonly string[], reads: JobReads, readAlready: boolean): Waiting {
    return new FeedWaiting(watchJobs(this.feed, jobs, readAlready, this.recheckMs), reads);
  }
}

class FeedWaiting implements Waiting {
  private readonly changes: ChangeWatch;
  private readonly reads: JobReads;
  /** The jobs a read found finished: the answer for them. */
  private readonly done = new Map<string, JobSnapshot>();
  /** The latest read of each job the feed said changed. */
  private readonly reading = new Map<string, Promise<JobSnapshot>>();

  constructor(changes: ChangeWatch, reads: JobReads) {
    this.changes = changes;
    this.reads = reads;
  }

  read(ids: readonly string[]): Promise<JobSnapshot[]> {
    return Promise.all(ids.map((id) => this.reads.now(id)));
  }

  async whole(snapshots: readonly JobSnapshot[]): Promise<JobSnapshot[]> {
    return [...snapshots];
  }

  until(pending: readonly string[]): Promise<void> {
    return untilChanged(this.changes, pending, async (changed) => {
      const asked = changed.filter((id) => !this.done.has(id));
      const asking = await Promise.all(asked.map((id) => this.readNow(id)))
        .then((jobs) => jobs.some((job) => job.status === "input_required"))
        .catch(() => false);
      return asking || this.done.size === pending.length;
    });
  }

  last(snapshots: readonly JobSnapshot[]): Promise<JobSnapshot[]> {
    return Promise.all(
      snapshots.map(async (s) => {
        if (!isUnfinished(s.status)) return s;
        await this.reading.get(s.jobId)?.catch(() => undefined);
        return this.done.get(s.jobId) ?? this.reads.now(s.jobId);
      }),
    );
  }

  close(): void {
    this.changes.close();
  }

  private readNow(id: string): Promise<JobSnapshot> {
    const reading = this.reads.now(id).then((job) => {
      if (!isUnfinished(job.status)) this.done.set(id, job);
      return job;
    });
    this.reading.set(id, reading);
    return reading;
  }
}

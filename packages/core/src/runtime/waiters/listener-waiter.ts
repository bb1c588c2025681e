/**
 * Waiting through Resonate listeners, on every store whose feed is not complete (a joiner of a store file,
 * Postgres, a store on a server): each job is read by registering a listener on its promise, one request, and
 * the store's message when it settles carries the settled job, which is then not read again
 * (`settle-listeners.ts`). The feed, or polling where there is none, is looked at only for new questions.
 */
import type { Network } from "@resonatehq/sdk";
import { DEFAULTS } from "../../defaults.ts";
import type { ChangeFeed, JobIndex, JobMetaRow } from "../../store/store.ts";
import type { ChangeWatch } from "../change-watch.ts";
import { isUnfinished, type JobSnapshot } from "../job.ts";
import type { PromiseClient, PromiseRecord } from "../promise-client.ts";
import type { Questions } from "../questions.ts";
import { type Listening, SettleListeners } from "../settle-listeners.ts";
import { type JobReads, untilChanged, type Waiter, type Waiting, watchJobs } from "./waiter.ts";

/** The waiter of a store whose feed is not complete: the listeners of one engine and what they heard. */
export class ListenerWaiter implements Waiter {
  private readonly feed: ChangeFeed | undefined;
  private readonly questions: Questions;
  private readonly listeners: SettleListeners;
  private readonly recheckMs: number;
  /** The index rows of jobs this process is finishing, read for the awaits waiting on them. */
  private readonly finishing = new Map<string, Promise<JobMetaRow | undefined>>();

  /**
   * `feed` (the store's, if it has one) tells of new questions; without it they are polled for. `recheckMs`:
   * how often the listeners of the jobs awaited are registered again, and their questions read (with a feed),
   * in case a message or a notice was lost.
   */
  constructor(
    promises: PromiseClient,
    meta: JobIndex,
    questions: Questions,
    feed: ChangeFeed | undefined,
    recheckMs: number = DEFAULTS.changeRecheckMs,
  ) {
    this.feed = feed;
    this.questions = questions;
    this.recheckMs = recheckMs;
    // A job finished here: what the index holds of it no longer changes, so an await's last read of it goes
    // along with the finishing request instead of after its answer.
    this.listeners = new SettleListeners(
      promises,
      (id) => {
        const read = meta.get(id);
        read.catch(() => undefined);
        this.finishing.set(id, read);
      },
      recheckMs,
    );
  }

  /** `network` as Resonate gets it, the settle messages of the jobs waited for here taken off it. */
  tap(network: Network): Network {
    return this.listeners.tap(network);
  }

  /** Stops registering listeners again, when the runtime closes. */
  stop(): void {
    this.listeners.stop();
  }

  /**
   * The index row of the settled job of `record`, read as this process finished it for an await here (taken:
   * asked once); `undefined` when there is none, or the job is pending (its row is to be read now).
   */
  finishedRow(record: PromiseRecord): Promise<JobMetaRow | undefined> | undefined {
    const read = this.finishing.get(record.id);
    if (read === undefined) return undefined;
    this.finishing.delete(record.id);
    return record.state === "pending" ? undefined : read;
  }

  begin(jobs: readonly string[], reads: JobReads, readAlready: boolean): Waiting {
    const changes = watchJobs(this.feed, jobs, readAlready, this.recheckMs);
    const listening = new Map([...new Set(jobs)].map((id) => [id, this.listeners.listen(id)] as const));
    return new ListenerWaiting(changes, listening, reads, this.questions, (ids) => {
      for (const id of ids) this.finishing.delete(id);
    });
  }
}

class ListenerWaiting implements Waiting {
  private readonly changes: ChangeWatch;
  private readonly listening: ReadonlyMap<string, Listening>;
  private readonly reads: JobReads;
  private readonly questions: Questions;
  private readonly forget: (ids: readonly string[]) => void;
  /** The promises as the first read found them, in the order of its IDs. */
  private found: (PromiseRecord | undefined)[] = [];
  /** The promises of the jobs that settled while the wait waited, as their listeners heard them. */
  private readonly settled = new Map<string, PromiseRecord | undefined>();
  private pending: readonly string[] = [];

  constructor(
    changes: ChangeWatch,
    listening: ReadonlyMap<string, Listening>,
    reads: JobReads,
    questions: Questions,
    forget: (ids: readonly string[]) => void,
  ) {
    this.changes = changes;
    this.listening = listening;
    this.reads = reads;
    this.questions = questions;
    this.forget = forget;
  }

  /**
   * Read by registering the listeners. A pending job is read again when the wait ends: its progress now is read
   * only with `progress` (to tick with it).
   */
  async read(ids: readonly string[], progress: boolean): Promise<JobSnapshot[]> {
    const found = await Promise.all(ids.map((id) => this.listening.get(id)?.found));
    this.found = found;
    return Promise.all(
      ids.map((id, i) => this.reads.from(id, found[i], progress || found[i]?.state !== "pending")),
    );
  }

  whole(snapshots: readonly JobSnapshot[]): Promise<JobSnapshot[]> {
    return Promise.all(
      snapshots.map((s, i) =>
        this.found[i]?.state === "pending" ? this.reads.from(s.jobId, this.found[i]) : s,
      ),
    );
  }

  until(pending: readonly string[]): Promise<void> {
    this.pending = pending;
    const settled = Promise.all(
      pending.map((id) => this.listening.get(id)?.settled.then((record) => this.settled.set(id, record))),
    );
    // The listeners tell of the settles; a change is looked at only for a new question.
    const asking = untilChanged(this.changes, pending, (changed) =>
      Promise.all(changed.map((id) => this.questions.pending(id))).then((open) =>
        open.some((q) => q.length > 0),
      ),
    );
    return Promise.race([settled.then(() => undefined), asking]);
  }

  async last(snapshots: readonly JobSnapshot[]): Promise<JobSnapshot[]> {
    try {
      return await Promise.all(
        snapshots.map((s) => {
          if (!isUnfinished(s.status)) return s;
          if (this.settled.has(s.jobId)) return this.reads.from(s.jobId, this.settled.get(s.jobId));
          return this.reads.now(s.jobId);
        }),
      );
    } finally {
      this.forget(this.pending);
    }
  }

  close(): void {
    this.changes.close();
    for (const held of this.listening.values()) held.close();
  }
}

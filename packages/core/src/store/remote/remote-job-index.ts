/**
 * The job index of a store another process serves: every read and write is a request to it, so progress and
 * listing are the same from every process. Writes are queued in order and reads wait for them, so a process
 * reads its own writes.
 */
import { log } from "../../internal/log.ts";
import type { JobIndex, JobListOptions, JobMetaRow, JobPage, JobRecord, SettledJob } from "../store.ts";
import type { ProtocolClient } from "./protocol-client.ts";

/** How long new job rows wait to be sent together, in ms. */
export const RECORD_BATCH_MS = 10;

/** A {@link JobIndex} over a served store's `asyncTools.jobs.*` requests. */
export class RemoteJobIndex implements JobIndex {
  private readonly client: ProtocolClient;
  private queued: JobRecord[] = [];
  private scheduled: NodeJS.Timeout | undefined;
  /** The last write in flight; writes go one after another, so they arrive in order. */
  private writes: Promise<void> = Promise.resolve();

  constructor(client: ProtocolClient) {
    this.client = client;
  }

  recordSoon(id: string, tool: string, now: number, principal?: string): void {
    this.queued.push({ id, tool, createdAt: now, ...(principal === undefined ? {} : { principal }) });
    // Rows of many starts go in one request; a read sends them first, so nothing reads stale.
    if (this.scheduled === undefined) this.scheduled = setTimeout(() => void this.flush(), RECORD_BATCH_MS);
  }

  progress(id: string, tool: string, fraction: number, message: string | undefined, now: number): void {
    const data = { id, tool, fraction, updatedAt: now, ...(message === undefined ? {} : { message }) };
    this.enqueue(async () => {
      await this.client.jobs("asyncTools.jobs.progress", data);
    }, "progress not stored");
  }

  async get(id: string): Promise<JobMetaRow | undefined> {
    await this.flush();
    return (await this.client.jobs("asyncTools.jobs.get", { id }))?.row ?? undefined;
  }

  async list(options: JobListOptions): Promise<JobPage> {
    await this.flush();
    return (await this.client.jobs("asyncTools.jobs.list", options)) ?? { rows: [] };
  }

  /**
   * The jobs among `ids` the store holds as settled, in one request. An owner that does not know the
   * question (an older version) answers none.
   */
  async settledJobs(ids: readonly string[]): Promise<SettledJob[]> {
    return (await this.client.jobs("asyncTools.jobs.settled", { ids: [...ids] }))?.settled ?? [];
  }

  async pruneBefore(before: number): Promise<number> {
    return (await this.client.jobs("asyncTools.jobs.prune", { before }))?.count ?? 0;
  }

  async flush(): Promise<void> {
    if (this.scheduled !== undefined) clearTimeout(this.scheduled);
    this.scheduled = undefined;
    const rows = this.queued.splice(0);
    if (rows.length > 0) {
      this.writes = this.writes.then(async () => {
        try {
          await this.client.jobs("asyncTools.jobs.record", { rows });
        } catch (error) {
          // Kept for whoever owns the store next (see takeQueued); the jobs run either way.
          this.queued.unshift(...rows);
          log("warn", "job metadata not stored yet; kept for the next attempt", { error });
        }
      });
    }
    await this.writes;
  }

  /** Resolves once every write sent so far has been answered or has failed. */
  async settled(): Promise<void> {
    await this.writes;
  }

  /** Rows not sent yet, handed over to the next index after a takeover. */
  takeQueued(): JobRecord[] {
    if (this.scheduled !== undefined) clearTimeout(this.scheduled);
    this.scheduled = undefined;
    return this.queued.splice(0);
  }

  private enqueue(write: () => Promise<void>, failure: string): void {
    this.writes = this.writes.then(write).catch((error: unknown) => log("warn", failure, { error }));
  }
}

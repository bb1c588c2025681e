/**
 * The contract between the store and the runtime: one object that carries the Resonate network the jobs run
 * on, the job index (tool, progress, listing) and the step log (every attempt of every step), the same for a process that owns a store file, one that
 * joined it, and one on a remote Resonate Server.
 */
import type { Network } from "@resonatehq/sdk";
import type { JobMetaRow } from "./job-meta.ts";
import type { SettledJob } from "./settled-jobs.ts";
import type { StepRecords } from "./step-log.ts";

/** One page of the job index, in the order asked for. `next` is the cursor of the following page. */
export interface JobPage {
  rows: JobMetaRow[];
  next?: number;
}

/**
 * What Resonate's promises do not hold about jobs: which tool a job belongs to, its latest progress, and a
 * row that outlives retention. Shared by every process of a store, so a probe from any of them sees it.
 */
/** What {@link JobIndex.list} pages through. */
export interface JobListOptions {
  tool?: string;
  principal?: string;
  /** Only jobs started at or after this time (epoch ms). */
  since?: number;
  /** `oldest` (the default) pages in start order; `newest` from the latest job back. */
  order?: "oldest" | "newest";
  cursor?: number;
  limit: number;
}

export interface JobIndex {
  /**
   * Notes that `id` is a job of `tool` owned by `principal` (`""` for a job without one), off the caller's
   * path; reads see it at once.
   */
  recordSoon(id: string, tool: string, now: number, principal?: string): void;
  /**
   * Stores the latest progress of `id`. May throw `STORE_IO` at once (a local file that refuses it); a
   * remote index logs its failures instead.
   */
  progress(id: string, tool: string, fraction: number, message: string | undefined, now: number): void;
  /** The row of `id`, if it was ever recorded and not pruned. */
  get(id: string): Promise<JobMetaRow | undefined>;
  /**
   * Jobs after `cursor` in start order (or from the newest back), optionally of one tool and started since a
   * time. With `principal` (`""`: jobs without one),
   * that principal's jobs and the rows whose principal was not recorded (written before the index held
   * principals), which the caller still checks.
   */
  list(options: JobListOptions): Promise<JobPage>;
  /** Forgets jobs started before `before` (epoch ms); returns how many. */
  pruneBefore(before: number): Promise<number>;
  /** Writes what {@link JobIndex.recordSoon} queued. */
  flush(): Promise<void>;
}

/** How this process holds its store. */
export type StoreRole =
  /** It opened the file (or memory) and serves it to the processes that join. */
  | "owner"
  /** Another process of this machine owns the file; this one reaches it over loopback HTTP. */
  | "joiner"
  /** A store on a server (a Resonate Server, `async-tools store serve`, Postgres) or a `Network` object. */
  | "remote";

/** An opened store: what {@link openStore} returns and the runtime runs on. */
export interface Store {
  kind: "sqlite" | "memory" | "http" | "postgres" | "custom";
  /** Where it is, for the start-up line (credentials removed). */
  description: string;
  /** Whether jobs survive a restart of this process. */
  durable: boolean;
  /** How this process holds the store now (a joiner becomes the owner when the owner dies). */
  readonly role: StoreRole;
  /** The network Resonate runs on, for the life of this process (it outlives a takeover). */
  network: Network;
  /** The job index, shared by every process of the store where the store can hold it. */
  jobs: JobIndex;
  /**
   * The step log, beside the job index: in the store file (the owner writes it; joiners send it their
   * records), else in this process's memory.
   */
  steps: StepRecords;
  /**
   * The jobs among `ids` (those this process runs) that are settled in the store: cancelled through another
   * process, the CLI or the dashboard. One request to a served store whatever the number of jobs; one read
   * per job on a Resonate Server or Postgres.
   */
  settled(ids: readonly string[]): Promise<SettledJob[]>;
  /**
   * Removes finished jobs past `retentionMs` now rather than at the next periodic sweep. Present on an
   * embedded store; only its owner may call it (`role === "owner"`).
   */
  gc?(now: number, retentionMs: number): number;
  /**
   * Resumes the work dead processes left behind. Call it once, after every function is registered: a
   * joiner that takes the store over later resumes the dead owner's work by itself.
   */
  recover(): void;
  /** Releases the store after Resonate stopped (closes the file, the served endpoint, the index). */
  close(): Promise<void>;
}

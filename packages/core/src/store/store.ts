/**
 * The one store interface, between the store and the runtime: an object that carries the Resonate network the
 * jobs run on, the job index (tool, progress, listing), the step log (every attempt of every step), the
 * settled-job check and the lifecycle (recover, close), the same for every backend: the embedded file
 * (`sqlite/`), one file shared by the processes of a machine (`shared/`), Postgres (`postgres/`) and a
 * Resonate Server (`remote/`). Each backend has one `open…` function that returns it; ARCHITECTURE.md says
 * which backend promises what.
 */
import type { Logger, Network } from "@resonatehq/sdk";
import type { ToolSlots } from "./tool-slots.ts";

/** A job's root promise that is no longer pending, and how it was settled. */
export interface SettledJob {
  id: string;
  state: "resolved" | "rejected" | "rejected_canceled" | "rejected_timedout";
}

/** Latest progress a job's function reported. */
export interface JobProgress {
  fraction: number;
  message?: string;
  updatedAt: number;
}

/** One job's metadata row. */
export interface JobMetaRow {
  id: string;
  tool: string;
  createdAt: number;
  progress?: JobProgress;
}

/** A new job's row: `principal` is `""` for a job without one, absent when the recorder did not say. */
export interface JobRecord {
  id: string;
  tool: string;
  createdAt: number;
  principal?: string;
}

/** How one attempt of a step ended; `running` while it runs. */
export type StepAttemptOutcome = "running" | "succeeded" | "failed" | "interrupted";

/** One attempt of one step. Times are epoch ms. */
export interface StepAttemptRow {
  attempt: number;
  outcome: StepAttemptOutcome;
  startedAt: number;
  endedAt?: number;
  /** Why the attempt failed (single line, no stack). */
  error?: string;
  /** When the next attempt was due, for a failed attempt that was retried. */
  retryAt?: number;
}

/** One step of a job and its attempts, in order. */
export interface StepRow {
  /** The step's durable promise ID, stable across replays. */
  stepId: string;
  name: string;
  attempts: StepAttemptRow[];
}

/**
 * Where step attempts are recorded. Async, so a process that reaches its store over the network can record
 * them there too; `sqlite/step-log.ts` is the local one, over the store file.
 */
export interface StepRecords {
  /** Records the start of an attempt of step `stepId` of `jobId`; resolves to the attempt's number. */
  begin(jobId: string, stepId: string, name: string, now: number): Promise<number>;
  /** Records how an attempt ended; `error` for a failure. */
  end(jobId: string, stepId: string, attempt: number, now: number, error?: string): void;
  /** Records when the attempt after the failed `attempt` is due. */
  retryAt(jobId: string, stepId: string, attempt: number, at: number): void;
  /** The steps of `jobId` in the order they first started, each with its attempts. */
  steps(jobId: string): Promise<StepRow[]>;
  /** Forgets attempts that started before `before` (epoch ms); resolves to how many. */
  pruneBefore(before: number): Promise<number>;
  /** Forgets every attempt of `jobId`. */
  forget(jobId: string): Promise<void>;
  /** Writes what is queued and stops recording. */
  close(): void;
}

/** One page of the job index, in the order asked for. `next` is the cursor of the following page. */
export interface JobPage {
  rows: JobMetaRow[];
  next?: number;
}

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

/**
 * What Resonate's promises do not hold about jobs: which tool a job belongs to, its latest progress, and a
 * row that outlives retention. Shared by every process of a store, so a probe from any of them sees it.
 */
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

/**
 * The promise tag naming the question a promise belongs to (a job's question index entries and the promises it
 * awaits for them): the change feed reports a change of such a promise as a change of its job.
 */
export const QUESTION_TAG = "async-tools:question";

/**
 * The promise tag naming the step a step's promise belongs to (its name in `ctx.run`): a Postgres store records
 * the step's attempt in the same call that creates the promise.
 */
export const STEP_TAG = "async-tools:step";

/** The promise tag naming the principal a job belongs to, when an authenticated caller started it. */
export const PRINCIPAL_TAG = "async-tools:principal";

/**
 * What changed of a job: its promise was created or settled, one of its questions was created or settled, its
 * progress was stored; `"changed"` when the notice does not say (one of an older store), which may be anything,
 * a settle too.
 */
export type JobChangeKind = "created" | "settled" | "question" | "progress" | "changed";

/** A change of one job, as the change feed tells it. */
export interface JobChange {
  id: string;
  what: JobChangeKind;
  /** Whose job it is (`""`: no one's); absent when the notice does not say. */
  principal?: string;
}

/** Jobs that changed, or `"any"` when the feed may have missed changes (read every job again). */
export type ChangedJobs = readonly JobChange[] | "any";

/**
 * The store's change feed: which jobs' status, questions or progress changed, soon after the change is
 * committed, whichever process of the store made it. A notice may be spurious (nothing a reader sees changed)
 * and, rarely, lost (the store changed hands); a reader re-reads what it follows now and then anyway
 * (`DEFAULTS.changeRecheckMs`).
 */
export interface ChangeFeed {
  /** Calls `listener` with every change from now on; returns the function that stops it. */
  subscribe(listener: (changed: ChangedJobs) => void): () => void;
  /**
   * Whether the feed tells every change of a job's status, and `"any"` after any gap (the store of this process:
   * it hears every commit): a wait may then end on the feed alone, without Resonate's listener on the job.
   */
  readonly complete?: boolean;
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
   * The change feed: the jobs changed by any process of the store. Absent where the store cannot tell (a
   * Resonate Server, `store serve` over HTTP, a `Network` object): readers then poll (`DEFAULTS.jobPollMs`).
   */
  changes?: ChangeFeed;
  /**
   * The concurrency slots of `tool`, shared by every process of the store (Postgres): its `concurrency` is
   * then global. Absent where each process keeps its own slots.
   */
  slots?: (tool: string, limit: number) => ToolSlots;
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

/** Timings of a store file shared by several processes; every one is a documented default (docs/configuration.md). */
export interface SharingOptions {
  /** How long to keep trying to own or join a store before giving up with `STORE_LOCKED`, in ms. */
  lockWaitMs: number;
  /** How long a joiner waits for the owner to accept its message stream, in ms. */
  connectTimeoutMs: number;
  /** How long a joiner waits for the answer to one request, in ms. */
  requestTimeoutMs: number;
  /** How long a process may stay disconnected before its work goes to the others, in ms. */
  graceMs: number;
  /** How far back messages are sent again after a reconnect, in ms. */
  replayMs: number;
  /** How often a joiner retries owning or joining while the store changes hands, in ms. */
  retryMs: number;
  /** Largest request the owner accepts from a joiner, in bytes. */
  maxBodyBytes: number;
}

/** Options every backend's `open…` gets: who this process is, and how the store is to behave. */
export interface OpenStoreOptions {
  pid: string;
  group: string;
  logger: Logger;
  retentionMs: number;
  durability?: "normal" | "full";
  /** How long a remote store may take to answer the first request. Default `DEFAULTS.storeConnectTimeoutMs`. */
  connectTimeoutMs?: number;
  /** The server's name: the default store file is `async-tools/<name>/jobs.db`. */
  name?: string;
  /** Timings of a store file shared by several processes. */
  sharing?: Partial<SharingOptions>;
  /** Connections of a Postgres store. */
  postgres?: PostgresOptions;
}

/** Settings of a Postgres store's connections; each has a default in `DEFAULTS_POSTGRES`. */
export interface PostgresOptions {
  /** Connections of the Resonate network (requests and drains). Default 8. */
  poolSize?: number;
  /** How often a replica drains at the least, so timers fire and a missed NOTIFY is caught up. Default 250 ms. */
  tickMs?: number;
  /** The `application_name` every connection shows in `pg_stat_activity`. Default `async-tools`. */
  applicationName?: string;
}

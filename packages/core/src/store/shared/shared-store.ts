/**
 * One store file, many processes: the first process to open the file owns it and serves it on loopback;
 * the next ones join it over Resonate's HTTP protocol. When the owner dies, a joiner notices its message
 * stream drop, takes the file's lock, opens the store itself and resumes the dead owner's work, while its
 * Resonate instance keeps the same network object (a switch from the HTTP client to the local store).
 */
import type { Logger, Message, Network, Send } from "@resonatehq/sdk";
import { AsyncToolsError } from "../../errors.ts";
import { log } from "../../internal/log.ts";
import { ChangeHub } from "../change-feed.ts";
import { ProtocolClient } from "../remote/protocol-client.ts";
import { RemoteJobIndex } from "../remote/remote-job-index.ts";
import { RemoteStepLog } from "../remote/remote-step-log.ts";
import { type EmbeddedStore, openEmbedded } from "../sqlite/open.ts";
import type {
  JobIndex,
  JobListOptions,
  JobPage,
  SettledJob,
  SharingOptions,
  StepRecords,
  StepRow,
  Store,
  StoreRole,
} from "../store.ts";
import { type StoreServer, serveStore } from "./http-server.ts";
import { LoopbackNetwork, OwnerUnreachable } from "./loopback-network.ts";
import { JoinedMessageSource } from "./message-source.ts";
import { newToken, readServeFile, type ServeInfo, writeServeFile } from "./serve-file.ts";

/** The defaults of {@link SharingOptions}. */
export const SHARING_DEFAULTS: SharingOptions = {
  lockWaitMs: 5000,
  connectTimeoutMs: 2000,
  requestTimeoutMs: 10_000,
  graceMs: 3000,
  replayMs: 5000,
  retryMs: 50,
  maxBodyBytes: 64 * 1024 * 1024,
};

/** Options of {@link openSharedStore}. */
export interface SharedStoreOptions {
  path: string;
  pid: string;
  group: string;
  logger: Logger;
  retentionMs: number;
  durability?: "normal" | "full";
  sharing?: Partial<SharingOptions>;
}

/**
 * Opens the store file at `path` as its owner, or joins the process that owns it.
 *
 * @throws AsyncToolsError `STORE_LOCKED` when the file stays owned by a process that does not answer,
 * `STORE_CORRUPT` or `STORE_IO` as `SqliteNetwork.open` does.
 */
export async function openSharedStore(options: SharedStoreOptions): Promise<Store> {
  const store = new SharedStore(options);
  await store.open();
  return store;
}

interface Owned extends EmbeddedStore {
  server: StoreServer;
  /** The owner before this one, whose work this one resumes. */
  previous: ServeInfo | undefined;
}

interface Joined {
  network: LoopbackNetwork;
  source: JoinedMessageSource;
  jobs: RemoteJobIndex;
  steps: RemoteStepLog;
  owner: ServeInfo;
}

class SharedStore implements Store {
  readonly kind = "sqlite" as const;
  readonly durable = true;
  readonly description: string;
  readonly network: SwitchingNetwork;
  readonly jobs: SwitchingJobIndex;
  readonly steps: SwitchingStepLog;
  /**
   * The change feed of whoever holds the file: the local store's while owned, the owner's relay while joined.
   * Changes made while the store changes hands are not known: readers then read everything again. Complete
   * while owned (the network hears every commit); a joiner's relay is not held to it.
   */
  readonly changes = new ChangeHub(() => this.owned !== undefined);
  private readonly options: SharedStoreOptions;
  private readonly sharing: SharingOptions;
  private owned: Owned | undefined;
  private joined: Joined | undefined;
  private recoverCalled = false;
  private closed = false;
  private switching: Promise<void> | undefined;

  constructor(options: SharedStoreOptions) {
    this.options = options;
    this.sharing = { ...SHARING_DEFAULTS, ...options.sharing };
    this.description = `sqlite:${options.path}`;
    const { group, pid } = options;
    this.network = new SwitchingNetwork(`poll://uni@${group}/${pid}`, `poll://any@${group}/${pid}`);
    this.jobs = new SwitchingJobIndex();
    this.steps = new SwitchingStepLog();
  }

  get role(): StoreRole {
    return this.owned !== undefined ? "owner" : "joiner";
  }

  /** Owns or joins, retrying while the store changes hands, until {@link SharingOptions.lockWaitMs}. */
  async open(): Promise<void> {
    const deadline = Date.now() + this.sharing.lockWaitMs;
    let last: unknown;
    for (;;) {
      try {
        await this.ownOrJoin();
        return;
      } catch (error) {
        if (!(error instanceof AsyncToolsError) || error.code !== "STORE_LOCKED") throw error;
        last = error;
      }
      if (Date.now() >= deadline) break;
      await sleep(this.sharing.retryMs);
    }
    throw new AsyncToolsError(
      "STORE_LOCKED",
      `${this.options.path} is owned by a process that does not answer its peers (an older async-tools version, or a hung process): stop it or use another store.`,
      { cause: last },
    );
  }

  gc(now: number, retentionMs: number): number {
    if (this.owned === undefined) {
      throw new AsyncToolsError("STORE_LOCKED", `${this.options.path} is owned by another process.`);
    }
    return this.owned.network.gc(now, retentionMs);
  }

  /** Asks whoever holds the file now; while the store changes hands, none (the next check asks again). */
  async settled(ids: readonly string[]): Promise<SettledJob[]> {
    if (this.owned !== undefined) return this.owned.network.settledAmong(ids);
    if (this.joined !== undefined) return this.joined.jobs.settledJobs(ids);
    return [];
  }

  recover(): void {
    if (this.recoverCalled) return;
    this.recoverCalled = true;
    if (this.owned !== undefined) this.resumeDeadWork(this.owned);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.switching?.catch(() => undefined);
    if (this.owned !== undefined || this.joined !== undefined) await this.jobs.flush().catch(() => undefined);
    if (this.joined !== undefined) {
      await this.joined.steps.settled();
      this.joined.steps.close();
      await this.joined.source.stop();
    }
    const owned = this.owned;
    if (owned !== undefined) {
      await owned.server.close();
      await owned.close();
    }
    this.network.stopped();
    this.jobs.stopped();
    this.steps.stopped();
  }

  /**
   * One attempt: take the lock (owner), or, when another process holds it, join it through the serve
   * file. After a dropped stream that file may still name the dead owner until the next one rewrites it;
   * joining it then fails (nothing listens there, or not with this token) and the caller tries again.
   */
  private async ownOrJoin(): Promise<void> {
    const { path } = this.options;
    try {
      await this.own();
      return;
    } catch (error) {
      if (!(error instanceof AsyncToolsError) || error.code !== "STORE_LOCKED") throw error;
      const info = readServeFile(path);
      if (info === undefined || info.pid === this.options.pid) throw error;
      try {
        await this.join(info);
      } catch (cause) {
        throw new AsyncToolsError("STORE_LOCKED", `cannot join the owner of ${path}`, { cause });
      }
    }
  }

  private async own(): Promise<void> {
    const { path, pid, group, retentionMs, durability } = this.options;
    const previous = readServeFile(path);
    const embedded = await openEmbedded(
      { path, pid, group, retentionMs, lockWaitMs: 0, ...(durability ? { durability } : {}) },
      this.description,
    );
    const { network, jobs, steps } = embedded;
    let server: StoreServer;
    // The token outlives owners: a joiner reads it again from the file, but a new one would help no one.
    const token = previous?.token ?? newToken();
    try {
      server = await serveStore({
        network,
        jobs,
        steps,
        token,
        graceMs: this.sharing.graceMs,
        replayMs: this.sharing.replayMs,
        maxBodyBytes: this.sharing.maxBodyBytes,
      });
      server.router.attachLocal(group, pid, (message) => network.deliverLocal(message));
      writeServeFile(path, { url: server.url, token, pid });
    } catch (error) {
      await embedded.close();
      throw new AsyncToolsError("STORE_IO", `Cannot serve the store ${path} to its other processes.`, {
        cause: error,
      });
    }
    const owned: Owned = { ...embedded, server, previous };
    this.owned = owned;
    network.changes.subscribe((changed) => this.changes.emit(changed));
    this.network.use(network);
    this.jobs.use(jobs);
    this.steps.use(steps);
    log("info", "store owned and served to the other processes of this machine", {
      store: path,
      url: server.url,
    });
  }

  private async join(owner: ServeInfo): Promise<void> {
    const { group, pid } = this.options;
    const source = new JoinedMessageSource({
      url: owner.url,
      token: owner.token,
      group,
      pid,
      onDrop: () => this.ownerGone(owner),
      onChanges: (changed) => this.changes.emit(changed),
    });
    await source.open(this.sharing.connectTimeoutMs);
    const network = new LoopbackNetwork({
      url: owner.url,
      token: owner.token,
      timeoutMs: this.sharing.requestTimeoutMs,
      source,
    });
    const client = new ProtocolClient({
      url: owner.url,
      token: owner.token,
      timeoutMs: this.sharing.requestTimeoutMs,
    });
    const jobs = new RemoteJobIndex(client);
    const steps = new RemoteStepLog(client);
    this.joined = { network, source, jobs, steps, owner };
    this.network.use(network);
    this.jobs.use(jobs);
    this.steps.use(steps);
    log("info", "store joined: another process owns it", { store: this.options.path, owner: owner.url });
  }

  /** The owner's stream dropped: own the store, or join whoever did, while requests wait. */
  private ownerGone(owner: ServeInfo): void {
    if (this.closed || this.switching !== undefined) return;
    const started = Date.now();
    const joined = this.joined;
    this.joined = undefined;
    this.network.hold();
    this.jobs.hold();
    this.steps.hold();
    this.switching = (async () => {
      await joined?.source.stop();
      // Step records in flight to the dead owner are advice: they end (or fail and are logged) here.
      joined?.steps.close();
      // Rows whose request died with the owner are queued again; the next owner gets them.
      await joined?.jobs.settled();
      const queued = joined?.jobs.takeQueued() ?? [];
      for (;;) {
        if (this.closed) return;
        try {
          await this.ownOrJoin();
          break;
        } catch (error) {
          if (!(error instanceof AsyncToolsError) || error.code !== "STORE_LOCKED") {
            log("error", "cannot take the store over; retrying", { store: this.options.path, error });
          }
        }
        await sleep(this.sharing.retryMs);
      }
      for (const row of queued) this.jobs.recordSoon(row.id, row.tool, row.createdAt, row.principal);
      if (this.owned !== undefined && this.recoverCalled) this.resumeDeadWork(this.owned);
      this.changes.emit("any");
      log("info", this.owned ? "store taken over from a dead owner" : "store rejoined under a new owner", {
        store: this.options.path,
        previous: owner.url,
        ms: Date.now() - started,
      });
    })().finally(() => {
      this.switching = undefined;
    });
  }

  /**
   * Resumes at once what the previous owner held; the tasks of other processes wait for them to reconnect,
   * and are resumed only if they do not within the grace period.
   */
  private resumeDeadWork(owned: Owned): void {
    const previousPid = owned.previous?.pid;
    const self = this.options.pid;
    // This process's own tasks run on here (it took the store over); the dead owner's resume now.
    owned.network.recover((pid) => pid !== previousPid);
    for (const pid of owned.network.holders()) {
      if (pid !== previousPid && pid !== self) owned.server.router.expect(this.options.group, pid);
    }
  }
}

/**
 * The network a Resonate instance is bound to for life: it forwards to the HTTP client while joined and to
 * the local store after a takeover, with the same addresses and the same message subscription. Requests
 * made while the store changes hands wait for the switch.
 */
export class SwitchingNetwork implements Network {
  readonly unicast: string;
  readonly anycast: string;
  private current: Network | undefined;
  private readonly callbacks: ((message: Message) => void)[] = [];
  private ready: Promise<void>;
  private release: () => void = () => undefined;
  private generation = 0;

  constructor(unicast: string, anycast: string) {
    this.unicast = unicast;
    this.anycast = anycast;
    this.ready = new Promise((resolve) => {
      this.release = resolve;
    });
  }

  match(target: string): string {
    return `poll://any@${target}`;
  }

  /** Makes requests wait until the next {@link SwitchingNetwork.use}. */
  hold(): void {
    this.ready = new Promise((resolve) => {
      this.release = resolve;
    });
  }

  /** Forwards to `network` from now on, and delivers its messages to the subscribers. */
  use(network: Network): void {
    this.current = network;
    this.generation++;
    const generation = this.generation;
    network.recv((message) => {
      if (this.generation !== generation) return;
      for (const callback of this.callbacks) callback(message);
    });
    this.release();
  }

  /** Drops subscribers once the store is closed; requests still waiting fail with `CLOSED`. */
  stopped(): void {
    this.generation++;
    this.callbacks.length = 0;
    this.current = undefined;
    this.release();
  }

  async init(): Promise<void> {}

  /** Stopping Resonate stops nothing here: {@link Store.close} releases the store. */
  async stop(): Promise<void> {}

  recv(callback: (message: Message) => void): void {
    this.callbacks.push(callback);
  }

  readonly send: Send = (async (request: Parameters<Send>[0]) => {
    await this.ready;
    const generation = this.generation;
    const network = this.current;
    if (network === undefined) throw new AsyncToolsError("CLOSED", "The store was closed.");
    try {
      return await network.send(request);
    } catch (error) {
      // The owner died under this request: once the store changed hands, ask the new one.
      if (!(error instanceof OwnerUnreachable)) throw error;
      await sleep(SWITCH_NOTICE_MS);
      await this.ready;
      const next = this.current;
      if (this.generation === generation || next === undefined) throw error;
      return next.send(request);
    }
  }) as Send;
}

/** How long a failed request waits for the stream's drop to be noticed before it counts as a plain failure. */
const SWITCH_NOTICE_MS = 100;

/**
 * What follows the store across a takeover, for one kind of thing (the job index, the step log): the one in use
 * now, a hold while the store changes hands, and calls that a dying owner cut are asked again of the next one.
 */
class Handover<T> {
  current: T | undefined;
  private generation = 0;
  private ready: Promise<void> = Promise.resolve();
  private release: () => void = () => undefined;
  private closed = false;

  use(next: T): void {
    this.current = next;
    this.generation++;
    this.release();
  }

  hold(): void {
    this.ready = new Promise((resolve) => {
      this.release = resolve;
    });
    this.current = undefined;
  }

  /** Lets waiting calls end once the store is closed. */
  stopped(): void {
    this.current = undefined;
    this.closed = true;
    this.release();
  }

  /** Runs `call` on the current one; a call cut by the owner's death is asked again of the next one. */
  async call<R>(call: (current: T) => Promise<R>): Promise<R> {
    await this.ready;
    const generation = this.generation;
    const current = this.current;
    if (current === undefined) throw new AsyncToolsError("CLOSED", "The store was closed.");
    try {
      return await call(current);
    } catch (error) {
      await sleep(SWITCH_NOTICE_MS);
      await this.ready;
      const next = this.current;
      if (this.generation === generation || next === undefined) throw error;
      return call(next);
    }
  }

  /** Runs `write` on the current one now, or on the next one once the store changed hands. */
  write(write: (current: T) => void): void {
    if (this.current !== undefined) write(this.current);
    else if (!this.closed) void this.ready.then(() => this.current !== undefined && write(this.current));
  }

  /** Waits for the store to be in someone's hands, then runs `call` on it if it is still open. */
  async settled(call: (current: T) => Promise<void>): Promise<void> {
    await this.ready;
    if (this.current !== undefined) await call(this.current);
  }
}

/** The job index that follows the store across a takeover, like {@link SwitchingNetwork}. */
class SwitchingJobIndex extends Handover<JobIndex> implements JobIndex {
  private readonly early: [string, string, number, string | undefined][] = [];

  override use(index: JobIndex): void {
    for (const [id, tool, now, principal] of this.early.splice(0)) index.recordSoon(id, tool, now, principal);
    super.use(index);
  }

  recordSoon(id: string, tool: string, now: number, principal?: string): void {
    if (this.current === undefined) this.early.push([id, tool, now, principal]);
    else this.current.recordSoon(id, tool, now, principal);
  }

  progress(id: string, tool: string, fraction: number, message: string | undefined, now: number): void {
    this.write((index) => index.progress(id, tool, fraction, message, now));
  }

  get(id: string) {
    return this.call((index) => index.get(id));
  }

  list(options: JobListOptions): Promise<JobPage> {
    return this.call((index) => index.list(options));
  }

  pruneBefore(before: number): Promise<number> {
    return this.call((index) => index.pruneBefore(before));
  }

  flush(): Promise<void> {
    return this.settled((index) => index.flush());
  }
}

/**
 * The step log that follows the store across a takeover, like {@link SwitchingJobIndex}. Records made while
 * the store changes hands go to the next owner; a read cut by the owner's death is asked again of it.
 */
class SwitchingStepLog extends Handover<StepRecords> implements StepRecords {
  begin(jobId: string, stepId: string, name: string, now: number): Promise<number> {
    return this.call((log) => log.begin(jobId, stepId, name, now));
  }

  end(jobId: string, stepId: string, attempt: number, now: number, error?: string): void {
    this.write((log) => log.end(jobId, stepId, attempt, now, error));
  }

  retryAt(jobId: string, stepId: string, attempt: number, at: number): void {
    this.write((log) => log.retryAt(jobId, stepId, attempt, at));
  }

  steps(jobId: string): Promise<StepRow[]> {
    return this.call((log) => log.steps(jobId));
  }

  pruneBefore(before: number): Promise<number> {
    return this.call((log) => log.pruneBefore(before));
  }

  forget(jobId: string): Promise<void> {
    return this.call((log) => log.forget(jobId));
  }

  /** The store closes the log it switches to; this only stops forwarding. */
  close(): void {}
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The embedded, durable Resonate network: the SDK's own protocol server runs in this process, and every
 * promise, task, schedule and timeout a request touches is committed to one SQLite file before the answer
 * leaves. RAM holds only in-flight work; settled history is read back from disk when a request names it.
 */
import { randomUUID } from "node:crypto";
import { resolve } from "node:path";
import type { DatabaseSync } from "node:sqlite";
import type { Message, Network, Request, Response, Send } from "@resonatehq/sdk";
import { DEFAULTS } from "../../defaults.ts";
import { AsyncToolsError } from "../../errors.ts";
import { log } from "../../internal/log.ts";
import { ChangeHub, changeOfPromise } from "../change-feed.ts";
import { resonateRequest } from "../protocol.ts";
import { settledOn } from "../settled-jobs.ts";
import { type JobChange, PRINCIPAL_TAG, type SettledJob } from "../store.ts";
import { Batching } from "./batching.ts";
import { Persistence } from "./persistence.ts";
import { Recovery, type TaskPick } from "./recovery.ts";
import { Residency } from "./residency.ts";
import { deleteLineagesBefore } from "./retention.ts";
import { type Change, type ProtocolServer, protocolServer } from "./sdk-internals.ts";
import { SpinGuard } from "./spin-guard.ts";
import { extendLeases, STALL_INFO_MS, StallWatch } from "./stall.ts";
import { openDatabase, prepare, type Statements, toStoreError } from "./store-file.ts";
import { WalSync } from "./wal-sync.ts";

/** Options of {@link SqliteNetwork}. */
export interface SqliteNetworkOptions {
  /** The store file, created with its directory when missing; `":memory:"` keeps nothing across restarts. */
  path: string;
  /** This process's id in the unicast and anycast addresses. Default: a random id. */
  pid?: string;
  /** The group in the unicast and anycast addresses. Default `"default"`. */
  group?: string;
  /** How often due timeouts (leases, retries, promise deadlines, schedules) fire, in ms. Default 1000; 0 disables. */
  tickMs?: number;
  /**
   * `"full"` (default) never loses an answered request, even to a power loss or an OS crash: answers wait for
   * an fsync of the WAL, one shared by every request committed while the previous one ran (`group-sync.ts`).
   * `"normal"` answers without waiting for it, and survives a crash or kill of the process, but not a power
   * loss.
   */
  durability?: "normal" | "full";
  /** How long finished lineages are kept, in ms. Default 7 days; `Infinity` keeps them forever. */
  retentionMs?: number;
  /**
   * Slow down the re-execution of a task that is executed again and again within seconds (a worker that
   * cannot run it releases it at once). Default true; the differential test turns it off to compare timing.
   */
  spinGuard?: boolean;
  /**
   * How long to wait for another process to release the file before refusing it with `STORE_LOCKED`, in ms.
   * Covers a restart that overlaps the old process's exit (a client relaunching its server). Default 2000.
   */
  lockWaitMs?: number;
  /**
   * How often what only the WAL holds is copied into the store file (a checkpoint), in ms, besides SQLite's
   * own checkpoint by size: it bounds what a damaged WAL can take. Default 30 s; 0 disables.
   */
  checkpointMs?: number;
}

/** Where a message goes: its Resonate address (`scheme://uni@group/pid`, `scheme://any@group[/pid]`). */
export type MessageRoute = (address: string, message: Message) => void;

const DAY = 24 * 60 * 60 * 1000;
/** Changes the change feed leaves out: a listener or callback registered on a promise (see `SqliteNetwork.apply`). */
const unfelt = new WeakSet<Change>();
const GC_EVERY_MS = 60 * 60 * 1000;

/**
 * A Resonate `Network` whose state lives in one SQLite file owned by this process. It answers every request
 * exactly as the SDK's in-memory server would, but only after the change is committed, so a crash or
 * `SIGKILL` loses nothing that was acknowledged. A second process opening the same file is refused with
 * `STORE_LOCKED`; a file that is not a store, or one whose WAL lost acknowledged commits (damaged, truncated or
 * deleted: see `sqlite/commit-mark.ts`), is refused with `STORE_CORRUPT` and left untouched.
 *
 * Call {@link SqliteNetwork.recover} once every function is registered, to resume the work a previous
 * process left behind.
 *
 * @example
 * ```ts
 * import { Resonate } from "@resonatehq/sdk/async";
 * import { SqliteNetwork } from "./sqlite-network.ts";
 *
 * const network = await SqliteNetwork.open({ path: "./jobs.db" });
 * const resonate = new Resonate({ network });
 * resonate.register("greet", async (_ctx: unknown, name: string) => `hello ${name}`);
 * network.recover();
 * const handle = await resonate.run("greet-ada", "greet", "Ada");
 * console.error(await handle.result());
 * await resonate.stop();
 * ```
 */
export class SqliteNetwork implements Network {
  /** The store file (absolute), or `":memory:"`. */
  readonly path: string;
  /** This process's own address, used for listeners. */
  readonly unicast: string;
  /** The address of this process's group, used as the default target of work. */
  readonly anycast: string;
  /**
   * The jobs each commit changed (their own promise or a question), once its requests are answered: every
   * change of a job's status passes here, so the feed is complete.
   */
  readonly changes = new ChangeHub(() => true);

  private readonly tickMs: number;
  private readonly durability: "normal" | "full";
  private readonly retentionMs: number;
  private readonly server: ProtocolServer;
  /** Writes what requests changed, one transaction per commit, and counts the commits. */
  private readonly persistence: Persistence;
  /** What of the file is in RAM: loads what a request names, evicts what is settled. */
  private readonly residency: Residency;
  private subscribers: ((msg: Message) => void)[] = [];
  private database: DatabaseSync | undefined;
  private statements: Statements | undefined;
  private state: "new" | "open" | "closed" = "new";
  /** The tasks a previous process left in flight, resumed by {@link SqliteNetwork.recover}. */
  private readonly recovery: Recovery;
  private tickTimer: NodeJS.Timeout | undefined;
  /** When the timeout loop last ran, by both clocks, to tell how long this process could not run. */
  private readonly stalls: StallWatch;
  private gcTimer: NodeJS.Timeout | undefined;
  /** Slows the re-execution of a task every worker releases at once; none in the differential test. */
  private readonly spinGuard: SpinGuard | undefined;
  private readonly lockWaitMs: number;
  private route: MessageRoute | undefined;
  /** The requests of this turn, committed together at its end (group commit). */
  private readonly batching: Batching;
  private readonly checkpointMs: number;
  private checkpointTimer: NodeJS.Timeout | undefined;

  /** Builds the network without touching the file; {@link SqliteNetwork.init} (or {@link SqliteNetwork.open}) opens it. */
  constructor(options: SqliteNetworkOptions) {
    const { pid = randomUUID().replace(/-/g, ""), group = "default" } = options;
    this.path = options.path === ":memory:" ? ":memory:" : resolve(options.path);
    this.tickMs = options.tickMs ?? 1000;
    this.stalls = new StallWatch(this.tickMs);
    this.durability = options.durability ?? "full";
    this.retentionMs = options.retentionMs ?? 7 * DAY;
    if (options.spinGuard ?? true) this.spinGuard = new SpinGuard(this.path);
    this.lockWaitMs = Math.max(0, options.lockWaitMs ?? 2000);
    this.checkpointMs = options.checkpointMs ?? DEFAULTS.walCheckpointMs;
    this.unicast = `sqlite://uni@${group}/${pid}`;
    this.anycast = `sqlite://any@${group}/${pid}`;
    this.server = protocolServer();
    this.residency = new Residency(this.server, () => this.sql);
    this.recovery = new Recovery(this.server);
    this.persistence = new Persistence({
      path: this.path,
      server: this.server,
      db: () => this.db,
      statements: () => this.sql,
      walSync: this.path !== ":memory:" && this.durability === "normal" ? new WalSync(this.path) : undefined,
      groupSync: this.path !== ":memory:" && this.durability === "full",
    });
    this.batching = new Batching({
      path: this.path,
      persist: (changes) => this.persistence.persist(changes, false),
      afterDurable: (run, alone) => this.persistence.afterDurable(run, alone),
      evict: (loaded, changes) => this.residency.evict(loaded, changes),
      resync: () => this.resync(),
      applyAlone: (now, req) => this.execute(now, req),
      jobsOf: (changes) => this.changedJobs(changes),
      dispatch: (changes, jobs) => {
        this.dispatch(changes);
        this.changes.emit(jobs);
      },
      syncError: (cause) => this.syncError(cause),
    });
  }

  /**
   * Opens the store at `options.path`, taking its lock and loading the work in flight.
   *
   * @throws AsyncToolsError `STORE_LOCKED`, `STORE_CORRUPT` or `STORE_IO`, with what to do about it.
   * @example
   * ```ts
   * const network = await SqliteNetwork.open({ path: "./jobs.db", durability: "full" });
   * ```
   */
  static async open(options: SqliteNetworkOptions): Promise<SqliteNetwork> {
    const network = new SqliteNetwork(options);
    await network.init();
    return network;
  }

  /**
   * The store's SQLite connection, for tables of the library's own kept in the same file.
   *
   * @throws AsyncToolsError `CLOSED` before `init()` or after `stop()`.
   */
  get db(): DatabaseSync {
    if (this.database === undefined) {
      throw new AsyncToolsError(
        "CLOSED",
        `The store ${this.path} is not open: await SqliteNetwork.open() first.`,
      );
    }
    return this.database;
  }

  /** The prepared statements of the open file; throws like {@link SqliteNetwork.db} when it is not open. */
  private get sql(): Statements {
    if (this.statements === undefined) {
      throw new AsyncToolsError(
        "CLOSED",
        `The store ${this.path} is not open: await SqliteNetwork.open() first.`,
      );
    }
    return this.statements;
  }

  /** The address that reaches any process of group `target`. */
  match(target: string): string {
    return `sqlite://any@${target}`;
  }

  /**
   * Opens the file, takes its lock and loads pending promises, unfinished tasks, schedules and timeouts.
   * Dispatches nothing (see {@link SqliteNetwork.recover}). Calling it again does nothing.
   */
  async init(): Promise<void> {
    this.start();
  }

  /** Stops the timeout loop and closes the file, releasing its lock. Later requests fail with `CLOSED`. */
  async stop(): Promise<void> {
    this.close();
  }

  /**
   * Answers a protocol request, once its effects are committed. The requests of one event-loop turn are
   * applied at once, in order, and committed in one transaction at the end of the turn; none is answered
   * before that commit.
   */
  readonly send: Send = ((req: Request) => this.enqueue(Date.now(), req)) as Send;

  /** Subscribes to the messages (`execute`, `unblock`) the store sends; one process owns the store, so all. */
  recv(callback: (msg: Message) => void): void {
    this.subscribers.push(callback);
  }

  /**
   * Resumes the work a previous owner of the file left: its leases and retries fall due now, so execution
   * restarts at once instead of after a lease timeout. The file lock proves that owner is dead. Call it once,
   * after every function is registered. Touches only tasks that were in flight when the file was opened and
   * leaves delayed work (`resonate:delay`) for its time. `spare` keeps the tasks of processes that may still
   * live (peers of a shared store), for {@link SqliteNetwork.releaseProcess} once they are known dead.
   */
  recover(spare?: (pid: string) => boolean): void {
    this.start();
    this.resume(this.recovery.leftBehind(spare));
  }

  /**
   * Resumes at once the tasks `pid` held when it died (its leases fall due now), instead of after their
   * lease. For a store shared by several processes: only the caller knows a process is gone.
   */
  releaseProcess(pid: string): number {
    this.start();
    return this.resume(this.recovery.heldBy(pid));
  }

  /** The processes holding acquired tasks, for a new owner that must learn which of them still live. */
  holders(): Set<string> {
    this.start();
    return this.recovery.holders();
  }

  /**
   * Sends each message to `route` instead of this process's subscribers: a store served to other processes
   * delivers by address. {@link SqliteNetwork.deliverLocal} reaches this process's own subscribers.
   */
  routeMessages(route: MessageRoute | undefined): void {
    this.route = route;
  }

  /**
   * Runs `write` inside each transaction the store commits, just before the commit, so rows of the
   * library's own tables ride along instead of paying a commit of their own. `write` must not throw. When
   * that transaction is rolled back, `rolledBack` runs, so the rows can go into a later commit.
   */
  alsoInCommit(write: () => void, rolledBack?: () => void, pending?: () => boolean): void {
    this.persistence.alsoInCommit({
      write,
      ...(rolledBack === undefined ? {} : { rolledBack }),
      ...(pending === undefined ? {} : { pending }),
    });
  }

  /**
   * Whether a transaction is due before the event loop goes on (requests of this turn wait for it): rows
   * queued now can ride along in it ({@link SqliteNetwork.alsoInCommit}) instead of paying for their own.
   */
  committingSoon(): boolean {
    return this.batching.pending;
  }

  /** Hands `message` to this process's own subscribers (what the default route does). */
  deliverLocal(message: Message): void {
    for (const subscriber of this.subscribers) {
      try {
        subscriber(message);
      } catch (error) {
        log("error", "a message subscriber threw", { store: this.path, kind: message.kind, error });
      }
    }
  }

  /** Makes the leases and retries of the tasks `pick` selects fall due now (recovery.ts), and starts the timeout loop. */
  private resume(pick: TaskPick): number {
    const now = Date.now();
    const resumed = this.recovery.resume(pick, now);
    // Timeouts fire from here on, not from open: a lease that lapsed before the functions were registered
    // would otherwise be re-dispatched to a process that cannot run it yet.
    if (this.tickMs > 0 && this.tickTimer === undefined) {
      this.stalls.started(now);
      this.tickTimer = setInterval(() => this.tickSafely(), this.tickMs);
      this.tickTimer.unref();
    }
    if (resumed > 0)
      log("info", "resuming work left by a previous process", { store: this.path, tasks: resumed });
    this.tick(now);
    return resumed;
  }

  /**
   * Applies `req` at time `now` through the full path (load, apply, commit, dispatch, evict): what `send`
   * does with `Date.now()`. For tests and benchmarks that drive the clock.
   */
  applyAt(now: number, req: Request): Response {
    return this.execute(now, req);
  }

  /**
   * Applies `req` at time `now` through the batched path `send` takes (answered after the commit of the
   * turn's batch). For tests that drive the clock.
   */
  sendAt(now: number, req: Request): Promise<Response> {
    return this.enqueue(now, req);
  }

  /**
   * The jobs among `ids` whose root promise is settled (see `Store.settled`). A promise RAM holds as pending
   * is pending in the file too (RAM holds every pending promise, and a settle is applied there before it is
   * committed), so only the others cost a `promise.get`: for a process checking its running jobs, none.
   */
  async settledAmong(ids: readonly string[]): Promise<SettledJob[]> {
    const promises = this.server.promises;
    const unsure = ids.filter((id) => promises.get(id)?.state !== "pending");
    return unsure.length === 0 ? [] : settledOn(this, unsure);
  }

  /** How many promises and tasks are held in RAM: the in-flight ones (and nothing settled). */
  residentCounts(): { promises: number; tasks: number } {
    return { promises: this.server.promises.size, tasks: this.server.tasks.size };
  }

  /**
   * Deletes, in bounded batches, the lineages whose root promise settled before `now - retentionMs`
   * (retention.ts), after committing the pending batch. Returns how many lineages were deleted.
   */
  gc(now: number, retentionMs: number): number {
    this.start();
    if (!(retentionMs < Number.POSITIVE_INFINITY)) return 0;
    this.flush();
    const deleted = deleteLineagesBefore(this.db, this.sql, this.server, now - retentionMs);
    if (deleted > 0)
      log("info", "deleted finished lineages past retention", { store: this.path, lineages: deleted });
    return deleted;
  }

  private start(): void {
    if (this.state === "open") return;
    if (this.state === "closed") {
      throw new AsyncToolsError("CLOSED", `The store ${this.path} was stopped; open a new SqliteNetwork.`);
    }
    const db = openDatabase(this.path, this.lockWaitMs);
    try {
      this.statements = prepare(db);
      this.database = db;
      this.persistence.seq = this.residency.loadResident();
      this.persistence.opened(db);
    } catch (error) {
      this.database = undefined;
      this.statements = undefined;
      db.close();
      throw toStoreError(this.path, error);
    }
    this.state = "open";
    this.recovery.opened();
    if (this.retentionMs < Number.POSITIVE_INFINITY) {
      this.gcSafely();
      this.gcTimer = setInterval(() => this.gcSafely(), GC_EVERY_MS);
      this.gcTimer.unref();
    }
    if (this.checkpointMs > 0 && this.path !== ":memory:") {
      this.checkpointTimer = setInterval(() => this.checkpointSafely(), this.checkpointMs);
      this.checkpointTimer.unref();
    }
    log("debug", "store opened", { store: this.path, ...this.residentCounts() });
  }

  private close(): void {
    if (this.state === "open") {
      this.flush();
      try {
        this.persistence.syncNow();
      } catch (error) {
        log("error", "cannot sync the store's last commits before closing it", { store: this.path, error });
      }
    }
    clearInterval(this.tickTimer);
    clearInterval(this.gcTimer);
    clearInterval(this.checkpointTimer);
    this.tickTimer = undefined;
    this.gcTimer = undefined;
    this.checkpointTimer = undefined;
    this.persistence.closed();
    this.subscribers = [];
    const db = this.database;
    this.database = undefined;
    this.statements = undefined;
    this.state = "closed";
    if (db?.isOpen) db.close();
  }

  private tickSafely(): void {
    try {
      const now = Date.now();
      this.grantStall(now);
      this.tick(now);
    } catch (error) {
      log("error", "store timeout tick failed", { store: this.path, error });
    }
  }

  /**
   * Gives every lease the time this process could not run (stall.ts) before its timeouts are checked, and
   * writes the extended leases.
   */
  private grantStall(now: number): void {
    const stalled = this.stalls.stalled(now);
    if (stalled === 0) return;
    this.flush();
    const changes = extendLeases(this.server, stalled);
    if (changes.length === 0) return;
    const level = stalled >= STALL_INFO_MS ? "info" : "debug";
    log(level, "this process could not run for a while; its leases are extended by that time", {
      store: this.path,
      ms: Math.round(stalled),
      tasks: changes.length,
    });
    try {
      this.persistence.persist(changes, false);
    } catch (error) {
      // RAM keeps the extension; the file catches up with the next heartbeat of each task.
      log("warn", "cannot write the extended leases to the store", { store: this.path, error });
    }
  }

  /** Checkpoints the WAL when anything was committed since the last time. */
  private checkpointSafely(): void {
    if (this.state === "open") this.persistence.checkpoint();
  }

  private gcSafely(): void {
    try {
      this.gc(Date.now(), this.retentionMs);
    } catch (error) {
      log("error", "store retention sweep failed", { store: this.path, error });
    }
  }

  /**
   * The synchronous path (resets, a request applied alone, {@link SqliteNetwork.applyAt}): commits the pending
   * batch, then `req` alone ({@link SqliteNetwork.commitAlone}), syncs that commit on this thread (it answers
   * now), and dispatches.
   */
  private execute(now: number, req: Request): Response {
    const { loaded, result } = this.commitAlone(now, req);
    try {
      this.persistence.syncNow();
    } catch (error) {
      throw this.syncError(error);
    }
    this.dispatch(result.changes);
    const jobs = this.changedJobs(result.changes);
    this.residency.evict(loaded, result.changes);
    queueMicrotask(() => this.changes.emit(jobs));
    return answer(req, result.response);
  }

  /**
   * Fires the timeouts due at `now` like {@link SqliteNetwork.execute}, but answers no one: the messages it
   * sends wait for a sync off the event loop (the one in flight, or the next), as a batch's do.
   */
  private tick(now: number): void {
    const { loaded, result } = this.commitAlone(now, resonateRequest("debug.tick", { time: now }));
    const jobs = this.changedJobs(result.changes);
    this.persistence.afterDurable((error) => {
      if (error !== undefined)
        log("error", "cannot sync the store after firing its timeouts", { store: this.path, error });
      // Committed either way: what the timeouts set in motion goes on.
      this.dispatch(result.changes);
      this.changes.emit(jobs);
    });
    this.residency.evict(loaded, result.changes);
  }

  /** Commits the pending batch, then loads what `req` names, applies it and commits it alone. */
  private commitAlone(
    now: number,
    req: Request,
  ): { loaded: string[]; result: ReturnType<ProtocolServer["apply"]> } {
    this.start();
    this.flush();
    let loaded: string[];
    let result: ReturnType<ProtocolServer["apply"]>;
    try {
      loaded = this.residency.loadFor(req, undefined);
      result = this.apply(now, req);
    } catch (error) {
      this.resync();
      throw error;
    }
    this.server.outgoing.length = 0;
    try {
      this.persistence.persist(result.changes, req.kind === "debug.reset");
    } catch (error) {
      this.resync();
      // A read changes nothing: only rows queued by the hooks rode along (and are queued again), so its answer
      // stands. On a full disk, what is stored can still be read.
      if (req.kind === "debug.reset" || result.changes.some((change) => change.kind !== "message.send"))
        throw this.writeError(error);
    }
    return { loaded, result };
  }

  /**
   * The batched path of `send`: loads and applies `req` in RAM now, in arrival order, and answers it once
   * the turn's batch is committed (batching.ts). A request that fails to apply fails the uncommitted requests
   * before it too (RAM is reloaded from the file); the SDK's server throws only on a broken invariant, so this
   * is a safety net, not a path.
   */
  private enqueue(now: number, req: Request): Promise<Response> {
    try {
      this.start();
    } catch (error) {
      return Promise.reject(error);
    }
    if (req.kind === "debug.reset") {
      try {
        return Promise.resolve(this.execute(now, req));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    let loaded: string[];
    try {
      loaded = this.residency.loadFor(req, this.batching.uncommitted);
    } catch (error) {
      // Nothing was applied: commit the requests before this one, then drop what was half loaded.
      this.flush();
      this.resync();
      return Promise.reject(error);
    }
    let result: ReturnType<ProtocolServer["apply"]>;
    try {
      result = this.apply(now, req);
    } catch (error) {
      this.batching.fail(error);
      this.resync();
      return Promise.reject(error);
    }
    this.server.outgoing.length = 0;
    return this.batching.add(now, req, result.changes, loaded, answer(req, result.response));
  }

  /**
   * Applies `req` to the server in RAM. A listener or callback registered on a promise changes no job's status,
   * questions or progress: its changes are kept out of the change feed, or every wait would wake its readers
   * (and the check for cancels) once for the listener it registers.
   */
  private apply(now: number, req: Request): ReturnType<ProtocolServer["apply"]> {
    const result = this.server.apply(now, req);
    if (req.kind === "promise.register_listener" || req.kind === "promise.register_callback")
      for (const change of result.changes) unfelt.add(change);
    return result;
  }

  /** Commits the pending batch, if any (batching.ts). */
  private flush(): void {
    this.batching.flush();
  }

  /**
   * The jobs `changes` touched, for the change feed: read before eviction, while the promises are in RAM; none
   * when no one listens.
   */
  private changedJobs(changes: Change[]): JobChange[] {
    if (!this.changes.listening) return [];
    const jobs = new Map<string, JobChange>();
    const root = (id: string) => this.server.promises.get(id);
    for (const change of changes) {
      if (change.kind !== "promise.set" || unfelt.has(change)) continue;
      const promise = this.server.promises.get(change.promise.id);
      const job = promise === undefined ? undefined : changeOfPromise(promise, root);
      if (job !== undefined) jobs.set(`${job.what} ${job.id}`, job);
    }
    return [...jobs.values()];
  }

  /** Whose the job `id` is (`""`: no one's), if its promise is in RAM now, for the change feed. */
  principalOf(id: string): string | undefined {
    const promise = this.server.promises.get(id);
    return promise === undefined ? undefined : (promise.tags[PRINCIPAL_TAG] ?? "");
  }

  private syncError(cause: unknown): AsyncToolsError {
    return new AsyncToolsError(
      "STORE_IO",
      `The store ${this.path} committed the request but could not sync it to disk (durability "full"), so it may not survive a power loss. Check the disk.`,
      { cause },
    );
  }

  private writeError(cause: unknown): AsyncToolsError {
    return new AsyncToolsError(
      "STORE_IO",
      `Cannot write to the store ${this.path}; the request was not applied. Check the disk and the file.`,
      { cause },
    );
  }

  /**
   * Delivers the messages of committed changes once the answers are on their way: in a microtask, not a
   * timer (a 0 ms timer waits a full millisecond). A task held by the spin guard waits its delay.
   */
  private dispatch(changes: Change[]): void {
    const now = Date.now();
    for (const change of changes) {
      if (change.kind !== "message.send") continue;
      const { message } = change;
      const delay =
        this.spinGuard !== undefined && message.kind === "execute"
          ? this.spinGuard.backoff(message.data.task.id, now)
          : 0;
      const { address } = change;
      if (delay > 0) setTimeout(() => this.deliver(address, message), delay);
      else queueMicrotask(() => this.deliver(address, message));
    }
  }

  private deliver(address: string, message: Message): void {
    if (this.route === undefined || this.state !== "open") {
      if (this.state === "open") this.deliverLocal(message);
      return;
    }
    try {
      this.route(address, message);
    } catch (error) {
      log("error", "a message route threw", { store: this.path, kind: message.kind, error });
    }
  }

  private resync(): void {
    try {
      this.persistence.seq = this.residency.loadResident();
    } catch (error) {
      log("error", "store closed: cannot reload it after a failed request", { store: this.path, error });
      this.close();
    }
  }
}

/** The response to `req` the server's `result` makes, under the request's correlation id. */
function answer(req: Request, result: ReturnType<ProtocolServer["apply"]>["response"]): Response {
  return {
    kind: result.kind,
    head: { corrId: req.head.corrId, status: result.head.status, version: req.head.version },
    data: result.data,
  } as Response;
}

/**
 * Every assumption this library makes about the Resonate SDK's internals, in one place: the shape of the
 * (unexported) protocol `Server` behind `LocalNetwork` and of the entities it keeps, which the embedded
 * store loads, persists and evicts. `@resonatehq/sdk` is pinned to an exact version for this file.
 */
import { LocalNetwork, type Message, type Request, type Response } from "@resonatehq/sdk";
import { AsyncToolsError } from "../../errors.ts";

/** A promise's state as the SDK's server keeps it. */
export type PromiseState = "pending" | "resolved" | "rejected" | "rejected_canceled" | "rejected_timedout";
/** A task's state as the SDK's server keeps it. */
export type TaskState = "pending" | "acquired" | "suspended" | "halted" | "fulfilled";

/** The SDK server's promise entity (not its wire record: this one carries callbacks and listeners). */
export interface StoredPromise {
  id: string;
  state: PromiseState;
  tags: Record<string, string>;
  createdAt: number;
  settledAt: number | null;
  callbacks: Set<string>;
  listeners: Set<string>;
}

/** The SDK server's task entity, with its buffered resumes. */
export interface StoredTask {
  id: string;
  state: TaskState;
  version: number;
  /** The process holding an acquired task. */
  pid?: string;
  resumes: Set<string>;
}

/** The SDK server's schedule entity; only the fields this file reads are named. */
export interface StoredSchedule {
  id: string;
  promiseId: string;
}

/** A due time the server keeps for a promise (`p`) or a schedule (`s`). */
export interface Timeout {
  id: string;
  timeout: number;
}

/** A task's due time: `type` 0 retries a pending task's execute, 1 ends an acquired task's lease. */
export interface TaskTimeout extends Timeout {
  type: 0 | 1;
}

/** One effect of an applied request, as the server reports it. */
export type Change =
  | { kind: "promise.set"; promise: { id: string } }
  | { kind: "task.set"; task: { id: string } }
  | { kind: "schedule.set"; schedule: { id: string } }
  | { kind: "schedule.del"; id: string }
  | { kind: "ptimeout.set" | "stimeout.set"; timeout: Timeout }
  | { kind: "ttimeout.set"; timeout: TaskTimeout }
  | { kind: "ptimeout.del" | "ttimeout.del" | "stimeout.del"; id: string }
  | { kind: "message.send"; address: string; message: Message };

/**
 * The part of the SDK's (unexported) `Server` class from `network/local.js` this file relies on. It is
 * reached through `new LocalNetwork().server`; `@resonatehq/sdk` is pinned to an exact version for that.
 */
export interface ProtocolServer {
  promises: Map<string, StoredPromise>;
  tasks: Map<string, StoredTask>;
  schedules: Map<string, StoredSchedule>;
  pTimeouts: TimeoutList<Timeout>;
  tTimeouts: TimeoutList<TaskTimeout>;
  sTimeouts: TimeoutList<Timeout>;
  outgoing: unknown[];
  apply(
    now: number,
    req: Request,
  ): { response: { kind: Response["kind"]; head: { status: number }; data: unknown }; changes: Change[] };
}

/** The server's methods that scan every in-flight entity, which {@link protocolServer} replaces or narrows. */
interface ScanningServer {
  promises: Map<string, StoredPromise>;
  pTimeouts: unknown;
  tTimeouts: unknown;
  sTimeouts: unknown;
  preload(promiseId: string): unknown[];
  triggerFulfilled(promiseId: string): Change[];
  setPTimeout(timeout: Timeout): Change;
  delPTimeout(id: string): Change;
  setTTimeout(timeout: TaskTimeout): Change;
  delTTimeout(id: string): Change;
  setSTimeout(timeout: Timeout): Change;
  delSTimeout(id: string): Change;
}

/**
 * A fresh protocol server, the SDK's own (reached through `new LocalNetwork().server`), with its scans over
 * every in-flight entity indexed: a branch's preload, the callbacks a fulfilled task held, and the timeout
 * lists' lookups by id. Each was linear in the work in flight (start latency 5x at 20k jobs in flight); the
 * differential test holds the indexed server to the SDK's answers, with thousands of promises in flight.
 *
 * @throws Error when the installed SDK's internals are not the ones this file describes.
 */
export function protocolServer(): ProtocolServer {
  const server = (new LocalNetwork() as unknown as { server: ProtocolServer & ScanningServer }).server;
  const methods = [
    "preload",
    "triggerFulfilled",
    "setPTimeout",
    "delPTimeout",
    "setTTimeout",
    "delTTimeout",
    "setSTimeout",
    "delSTimeout",
  ] as const;
  if (
    !(server?.promises instanceof Map) ||
    typeof server.apply !== "function" ||
    !Array.isArray(server.pTimeouts) ||
    methods.some((name) => typeof server[name] !== "function")
  ) {
    throw new AsyncToolsError(
      "SDK_MISMATCH",
      "@resonatehq/sdk changed its LocalNetwork internals; SqliteNetwork needs the pinned version",
    );
  }
  indexServer(server);
  return server;
}

/**
 * An ordered list of due times, one per id, as the server keeps them in arrays: an update keeps its place,
 * a new id goes last, a removal closes the gap. A map gives the same order with lookups by id in O(1).
 */
export class TimeoutList<T extends Timeout> implements Iterable<T> {
  private readonly byId = new Map<string, T>();

  /** How many ids have a due time; setting 0 empties the list (what the store does before a reload). */
  get length(): number {
    return this.byId.size;
  }

  set length(size: number) {
    if (size !== 0) throw new Error("a timeout list can only be emptied");
    this.byId.clear();
  }

  [Symbol.iterator](): Iterator<T> {
    return this.byId.values();
  }

  /** Appends `entries` (read back from the file, in order). */
  push(...entries: T[]): number {
    for (const entry of entries) this.upsert(entry);
    return this.byId.size;
  }

  /** Sets the due time of `entry.id`, in its place, or last when the id is new. */
  upsert(entry: T): void {
    this.byId.set(entry.id, entry);
  }

  /** Removes the due time of `id`; whether there was one. */
  remove(id: string): boolean {
    return this.byId.delete(id);
  }

  /** The first entry `predicate` accepts (the server looks schedules' due times up this way). */
  find(predicate: (entry: T) => boolean): T | undefined {
    for (const entry of this.byId.values()) if (predicate(entry)) return entry;
    return undefined;
  }

  /** The list as the array the server's debug snapshot would return. */
  toJSON(): T[] {
    return [...this.byId.values()];
  }
}

/**
 * A promise map that also knows each branch's members (in map order) and, for each awaiter, the promises
 * whose callbacks may name it. The server changes callbacks only on promises it then sets again, so
 * indexing on `set` sees every callback; entries for callbacks cleared since are checked and skipped.
 */
class IndexedPromises extends Map<string, StoredPromise> {
  readonly branches = new Map<string, Set<string>>();
  readonly awaiters = new Map<string, Set<string>>();

  override set(id: string, promise: StoredPromise): this {
    const previous = super.get(id);
    super.set(id, promise);
    const branch = promise.tags?.["resonate:branch"];
    const before = previous?.tags?.["resonate:branch"];
    if (previous === undefined) {
      if (branch) addTo(this.branches, branch, id);
    } else if (before !== branch) {
      // Never seen (tags are fixed at creation), but kept right: rebuild both branches in map order.
      if (before) this.rebuildBranch(before);
      if (branch) this.rebuildBranch(branch);
    }
    for (const awaiter of promise.callbacks ?? []) addTo(this.awaiters, awaiter, id);
    return this;
  }

  override delete(id: string): boolean {
    const promise = super.get(id);
    if (promise === undefined) return false;
    const branch = promise.tags?.["resonate:branch"];
    if (branch) removeFrom(this.branches, branch, id);
    for (const awaiter of promise.callbacks ?? []) removeFrom(this.awaiters, awaiter, id);
    return super.delete(id);
  }

  override clear(): void {
    super.clear();
    this.branches.clear();
    this.awaiters.clear();
  }

  /** The members of `branch` in map order, as a map the server's own preload can scan. */
  branchOf(branch: string): Map<string, StoredPromise> {
    const members = new Map<string, StoredPromise>();
    for (const id of this.branches.get(branch) ?? []) {
      const promise = super.get(id);
      if (promise !== undefined) members.set(id, promise);
    }
    return members;
  }

  /** The promises whose callbacks may name `awaiter`, forgetting the entry (the task is being fulfilled). */
  takeAwaited(awaiter: string): Map<string, StoredPromise> {
    const awaited = new Map<string, StoredPromise>();
    for (const id of this.awaiters.get(awaiter) ?? []) {
      const promise = super.get(id);
      if (promise?.callbacks.has(awaiter)) awaited.set(id, promise);
    }
    this.awaiters.delete(awaiter);
    return awaited;
  }

  private rebuildBranch(branch: string): void {
    const members = new Set<string>();
    for (const [id, promise] of this) if (promise.tags?.["resonate:branch"] === branch) members.add(id);
    if (members.size > 0) this.branches.set(branch, members);
    else this.branches.delete(branch);
  }
}

function addTo(index: Map<string, Set<string>>, key: string, id: string): void {
  const ids = index.get(key);
  if (ids === undefined) index.set(key, new Set([id]));
  else ids.add(id);
}

function removeFrom(index: Map<string, Set<string>>, key: string, id: string): void {
  const ids = index.get(key);
  if (ids === undefined) return;
  ids.delete(id);
  if (ids.size === 0) index.delete(key);
}

/**
 * Replaces the server's scans: `preload` and `triggerFulfilled` run the SDK's own code over just the
 * promises the index names (the only promises those scans can pick), and the timeout lists become
 * {@link TimeoutList}s, whose set and delete are the arrays' upsert and removal by id.
 */
function indexServer(server: ProtocolServer & ScanningServer): void {
  const promises = new IndexedPromises();
  for (const [id, promise] of server.promises) promises.set(id, promise);
  server.promises = promises;

  const preload = server.preload.bind(server);
  server.preload = (promiseId) => {
    const branch = promises.get(promiseId)?.tags?.["resonate:branch"];
    if (!branch) return [];
    return narrowed(server, promises, promises.branchOf(branch), () => preload(promiseId));
  };
  const triggerFulfilled = server.triggerFulfilled.bind(server);
  server.triggerFulfilled = (promiseId) =>
    narrowed(server, promises, promises.takeAwaited(promiseId), () => triggerFulfilled(promiseId));

  const lists = {
    pTimeouts: new TimeoutList<Timeout>(),
    tTimeouts: new TimeoutList<TaskTimeout>(),
    sTimeouts: new TimeoutList<Timeout>(),
  };
  for (const name of ["pTimeouts", "tTimeouts", "sTimeouts"] as const) {
    const list = lists[name] as TimeoutList<Timeout>;
    list.push(...(server[name] as unknown as Timeout[]));
    // The server's reset assigns fresh arrays: take their contents, keep the list.
    Object.defineProperty(server, name, {
      configurable: true,
      enumerable: true,
      get: () => list,
      set: (value: Iterable<Timeout>) => {
        list.length = 0;
        list.push(...value);
      },
    });
  }
  server.setPTimeout = (timeout) => {
    lists.pTimeouts.upsert(timeout);
    return { kind: "ptimeout.set", timeout: { id: timeout.id, timeout: timeout.timeout } };
  };
  server.delPTimeout = (id) => removal("ptimeout.del", id, lists.pTimeouts.remove(id));
  server.setTTimeout = (timeout) => {
    lists.tTimeouts.upsert(timeout);
    return {
      kind: "ttimeout.set",
      timeout: { id: timeout.id, type: timeout.type, timeout: timeout.timeout },
    };
  };
  server.delTTimeout = (id) => removal("ttimeout.del", id, lists.tTimeouts.remove(id));
  server.setSTimeout = (timeout) => {
    lists.sTimeouts.upsert(timeout);
    return { kind: "stimeout.set", timeout: { id: timeout.id, timeout: timeout.timeout } };
  };
  server.delSTimeout = (id) => removal("stimeout.del", id, lists.sTimeouts.remove(id));
}

/** Removals of a due time that was not there (the server removes a promise's on every settle, set or not). */
const vacuous = new WeakSet<Change>();

/**
 * The change the server reports for removing the due time of `id`, the same whether or not there was one,
 * as the SDK's server reports it; one that removed nothing is known to {@link removesNothing}.
 */
function removal(
  kind: "ptimeout.del" | "ttimeout.del" | "stimeout.del",
  id: string,
  removed: boolean,
): Change {
  const change: Change = { kind, id };
  if (!removed) vacuous.add(change);
  return change;
}

/**
 * Whether `change` removed a due time that RAM did not hold: every due time is resident, so the file has no
 * row for it either, and there is nothing to write.
 */
export function removesNothing(change: Change): boolean {
  return vacuous.has(change);
}

/**
 * Runs `scan` (one of the server's own methods) with `server.promises` narrowed to `subset`. The scans
 * only read promises and mutate them in place; a `set` they make on the subset names an object the full
 * map already holds under that id, in its place.
 */
function narrowed<T>(
  server: ScanningServer,
  full: IndexedPromises,
  subset: Map<string, StoredPromise>,
  scan: () => T,
): T {
  server.promises = subset;
  try {
    return scan();
  } finally {
    server.promises = full;
  }
}

/** A promise entity read back from its stored JSON (its sets were stored as arrays). */
export function parsePromise(body: string): StoredPromise {
  const promise = JSON.parse(body);
  promise.callbacks = new Set(promise.callbacks);
  promise.listeners = new Set(promise.listeners);
  return promise;
}

export function parseTask(body: string): StoredTask {
  const task = JSON.parse(body);
  task.resumes = new Set(task.resumes);
  return task;
}

/** The lineage origin the server derives from an id: everything before the first `:`. */
export function originOf(id: string): string {
  const colon = id.indexOf(":");
  return colon === -1 ? id : id.slice(0, colon);
}

/** A promise entity as stored JSON (its sets as arrays). */
export function promiseBody(p: StoredPromise): string {
  return JSON.stringify({ ...p, callbacks: [...p.callbacks], listeners: [...p.listeners] });
}

/** A task entity as stored JSON. */
export function taskBody(t: StoredTask): string {
  return JSON.stringify({ ...t, resumes: [...t.resumes] });
}

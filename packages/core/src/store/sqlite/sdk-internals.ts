/**
 * Every assumption this library makes about the Resonate SDK's internals, in one place: the shape of the
 * (unexported) protocol `Server` behind `LocalNetwork` and of the entities it keeps, which the embedded
 * store loads, persists and evicts. `@resonatehq/sdk` is pinned to an exact version for this file.
 */
import { LocalNetwork, type Message, type Request, type Response } from "@resonatehq/sdk";

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
  pTimeouts: Timeout[];
  tTimeouts: TaskTimeout[];
  sTimeouts: Timeout[];
  outgoing: unknown[];
  apply(
    now: number,
    req: Request,
  ): { response: { kind: Response["kind"]; head: { status: number }; data: unknown }; changes: Change[] };
}

/**
 * A fresh protocol server, the SDK's own (reached through `new LocalNetwork().server`).
 *
 * @throws Error when the installed SDK's internals are not the ones this file describes.
 */
export function protocolServer(): ProtocolServer {
  const server = (new LocalNetwork() as unknown as { server: ProtocolServer }).server;
  if (!(server?.promises instanceof Map) || typeof server.apply !== "function") {
    throw new Error(
      "@resonatehq/sdk changed its LocalNetwork internals; SqliteNetwork needs the pinned version",
    );
  }
  return server;
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

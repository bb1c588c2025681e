/**
 * Delivers the messages of a served store to the processes that share it: the owner's own subscribers and
 * each joiner's SSE stream. Delivery survives reconnects (a message for a process that is reconnecting
 * waits for it, and the last seconds of messages are sent again after a reconnect), and anycast work for a
 * process that is gone goes to another live process of its group.
 */
import type { Message } from "@resonatehq/sdk";
import { log } from "../../internal/log.ts";
import { parseAddress } from "./address.ts";

/** Options of {@link MessageRouter}. */
export interface MessageRouterOptions {
  /** How long a process may stay disconnected before it counts as dead, in ms. */
  graceMs: number;
  /** How far back messages are sent again when a process reconnects, in ms. */
  replayMs: number;
  /** Called once a process counts as dead, so its work can be released. */
  onDead: (pid: string, group: string) => void;
}

/** Most messages held for one disconnected process before the oldest are dropped. */
const MAX_QUEUE = 10_000;

interface Endpoint {
  group: string;
  pid: string;
  /** Writes one message; `false` when the stream is gone. `undefined` while disconnected. */
  sink: ((message: Message) => boolean) | undefined;
  /** Messages waiting for a reconnect. */
  queue: Message[];
  /** Messages written lately, sent again on a reconnect: a write can vanish with a dropping stream. */
  recent: { at: number; message: Message }[];
  deadTimer: NodeJS.Timeout | undefined;
  local: boolean;
}

/** Routes messages by address to the processes connected to a served store. */
export class MessageRouter {
  private readonly endpoints = new Map<string, Endpoint>();
  /** Anycast messages for a group with no process at all, for the first one that connects. */
  private readonly backlog = new Map<string, Message[]>();
  private readonly options: MessageRouterOptions;
  private turn = 0;
  private closed = false;

  constructor(options: MessageRouterOptions) {
    this.options = options;
  }

  /** Adds the serving process itself: always connected, never dead. */
  attachLocal(group: string, pid: string, deliver: (message: Message) => void): void {
    this.endpoints.set(key(group, pid), {
      group,
      pid,
      sink: (message) => {
        deliver(message);
        return true;
      },
      queue: [],
      recent: [],
      deadTimer: undefined,
      local: true,
    });
  }

  /**
   * Connects a process's stream; returns the function to call when the stream closes. Whatever waited for
   * it is written at once, after the messages of the last {@link MessageRouterOptions.replayMs}.
   */
  connect(group: string, pid: string, sink: (message: Message) => boolean): () => void {
    const id = key(group, pid);
    let endpoint = this.endpoints.get(id);
    if (endpoint === undefined) {
      endpoint = { group, pid, sink: undefined, queue: [], recent: [], deadTimer: undefined, local: false };
      this.endpoints.set(id, endpoint);
    }
    clearTimeout(endpoint.deadTimer);
    endpoint.deadTimer = undefined;
    endpoint.sink = sink;
    const now = Date.now();
    const replay = endpoint.recent.filter((entry) => now - entry.at <= this.options.replayMs);
    const waiting = [
      ...replay.map((entry) => entry.message),
      ...endpoint.queue.splice(0),
      ...(this.backlog.get(group) ?? []),
    ];
    this.backlog.delete(group);
    endpoint.recent = [];
    for (const message of waiting) this.write(endpoint, message);
    const current = endpoint;
    return () => {
      if (current.sink !== sink) return;
      current.sink = undefined;
      this.expect(group, pid);
    };
  }

  /**
   * Counts `pid` as alive but not connected yet (a process that held work when this store was opened):
   * messages for it wait, and it counts as dead unless it connects within the grace period.
   */
  expect(group: string, pid: string): void {
    if (this.closed) return;
    const id = key(group, pid);
    let endpoint = this.endpoints.get(id);
    if (endpoint === undefined) {
      endpoint = { group, pid, sink: undefined, queue: [], recent: [], deadTimer: undefined, local: false };
      this.endpoints.set(id, endpoint);
    }
    if (endpoint.sink !== undefined || endpoint.deadTimer !== undefined || endpoint.local) return;
    const timer = setTimeout(() => this.declareDead(id), this.options.graceMs);
    timer.unref();
    endpoint.deadTimer = timer;
  }

  /** Sends `message` where `address` says. */
  route(address: string, message: Message): void {
    if (this.closed) return;
    const target = parseAddress(address);
    if (target === undefined) {
      log("warn", "message to an address this store cannot route dropped", { address, kind: message.kind });
      return;
    }
    const preferred =
      target.pid === undefined ? undefined : this.endpoints.get(key(target.group, target.pid));
    if (preferred !== undefined) {
      this.write(preferred, message);
      return;
    }
    if (target.cast === "uni") {
      // A process that has not opened its stream yet (it sends requests first): hold the message for it.
      this.expect(target.group, target.pid as string);
      const endpoint = this.endpoints.get(key(target.group, target.pid as string));
      if (endpoint !== undefined) this.write(endpoint, message);
      return;
    }
    this.toGroup(target.group, message, undefined);
  }

  /** The processes with an open stream (and the serving process itself), as `group/pid`. */
  connected(): string[] {
    return [...this.endpoints.entries()].filter(([, e]) => e.sink !== undefined).map(([id]) => id);
  }

  /** Closes every stream's bookkeeping; later messages are dropped. */
  close(): void {
    this.closed = true;
    for (const endpoint of this.endpoints.values()) clearTimeout(endpoint.deadTimer);
    this.endpoints.clear();
    this.backlog.clear();
  }

  /** One live process of `group` other than `except`, connected ones first, in turn. */
  private toGroup(group: string, message: Message, except: string | undefined): void {
    const members = [...this.endpoints.values()].filter((e) => e.group === group && e.pid !== except);
    const connected = members.filter((e) => e.sink !== undefined);
    const pool = connected.length > 0 ? connected : members;
    if (pool.length === 0) {
      const waiting = this.backlog.get(group) ?? [];
      waiting.push(message);
      if (waiting.length > MAX_QUEUE) waiting.shift();
      this.backlog.set(group, waiting);
      return;
    }
    this.turn = (this.turn + 1) % pool.length;
    this.write(pool[this.turn] as Endpoint, message);
  }

  private write(endpoint: Endpoint, message: Message): void {
    if (endpoint.sink?.(message)) {
      if (!endpoint.local) {
        const now = Date.now();
        endpoint.recent.push({ at: now, message });
        while ((endpoint.recent[0]?.at ?? now) < now - this.options.replayMs) endpoint.recent.shift();
      }
      return;
    }
    endpoint.queue.push(message);
    if (endpoint.queue.length > MAX_QUEUE) endpoint.queue.shift();
  }

  private declareDead(id: string): void {
    const endpoint = this.endpoints.get(id);
    if (endpoint === undefined || endpoint.sink !== undefined) return;
    this.endpoints.delete(id);
    log("info", "a process of the store is gone; its work goes to the others", { pid: endpoint.pid });
    // Work offered to the whole group goes on to another process; what only this one could take is moot.
    for (const message of endpoint.queue) {
      if (message.kind === "execute") this.toGroup(endpoint.group, message, endpoint.pid);
    }
    // Tasks record a process, not its group: one still connected under another group keeps its work.
    const elsewhere = [...this.endpoints.values()].some(
      (e) => e.pid === endpoint.pid && e.sink !== undefined,
    );
    if (!elsewhere) this.options.onDead(endpoint.pid, endpoint.group);
  }
}

function key(group: string, pid: string): string {
  return `${group}/${pid}`;
}

/**
 * Waiting for jobs to settle with one request each: registering a listener on a job's promise reads the promise
 * too, and the store's `unblock` message when it settles carries the settled promise, so an await reads a job
 * once before and not at all after. The messages are taken off the network before Resonate sees them (it
 * would keep a subscription for a promise it never asked about and poll it every minute). A job this process
 * finishes settles its awaits here with the store's answer to the finishing request, a round trip before that
 * message comes.
 */
import type { Message, Network } from "@resonatehq/sdk";
import { DEFAULTS } from "../defaults.ts";
import { log } from "../internal/log.ts";
import { relayed } from "./network-relay.ts";
import type { PromiseClient, PromiseRecord } from "./promise-client.ts";
import { errorText } from "./step-retry.ts";

/** One await's hold on a job: the promise as found, and as settled. */
export interface Listening {
  /** The promise when the listener was registered; `undefined` when the store has none. */
  readonly found: Promise<PromiseRecord | undefined>;
  /** The promise once settled (at once when it was already); `undefined` when the store has none. */
  readonly settled: Promise<PromiseRecord | undefined>;
  /** This await no longer waits (it returned); the listener stays, for the message the store will send. */
  close(): void;
}

interface Entry {
  settled: Promise<PromiseRecord | undefined>;
  resolve(record: PromiseRecord | undefined): void;
  /** Awaits waiting on it now; registered again now and then only while some do. */
  waiters: number;
}

/** The listeners of one engine on the promises of the jobs its awaits wait for. */
export class SettleListeners {
  private readonly promises: PromiseClient;
  private readonly entries = new Map<string, Entry>();
  private address = "";
  private timer: NodeJS.Timeout | undefined;
  /** Promises settled here from a finishing request, whose message is still to come (and to be taken off). */
  private readonly early = new Map<string, number>();

  /** Told when this process sends the request that finishes a job some await here waits for. */
  private readonly finishing: (id: string) => void;
  private readonly recheckMs: number;

  /** `recheckMs`: how often the listeners awaits wait on are registered again. */
  constructor(
    promises: PromiseClient,
    finishing: (id: string) => void = () => undefined,
    recheckMs: number = DEFAULTS.changeRecheckMs,
  ) {
    this.promises = promises;
    this.finishing = finishing;
    this.recheckMs = recheckMs;
  }

  /**
   * `network` as Resonate gets it: the `unblock` messages of promises listened to here are taken off it and
   * settle their awaits; every other message goes on to Resonate.
   */
  tap(network: Network): Network {
    this.address = network.unicast;
    return relayed(network, {
      send: (async (request: Parameters<Network["send"]>[0]) => {
        const fulfil = request.kind === "task.fulfill";
        if (fulfil && (this.entries.get(request.data.id)?.waiters ?? 0) > 0) this.finishing(request.data.id);
        const response = await network.send(request);
        if (fulfil) this.fulfilled(response);
        return response;
      }) as Network["send"],
      recv: (callback) =>
        network.recv((message) => {
          if (!this.heard(message)) callback(message);
        }),
    });
  }

  /**
   * Registers a listener on the promise `id`, which reads it: one request to the store. A promise settled
   * meanwhile is caught by the store (it answers settled) or by the message it sends (a lost message by the
   * registration made again every `recheckMs`, by default {@link DEFAULTS.changeRecheckMs}, while an await
   * waits).
   */
  listen(id: string): Listening {
    let entry = this.entries.get(id);
    if (entry === undefined) {
      const { promise, resolve } = Promise.withResolvers<PromiseRecord | undefined>();
      entry = { settled: promise, resolve, waiters: 0 };
      this.entries.set(id, entry);
    }
    const held = entry;
    held.waiters += 1;
    this.watch();
    // The entry is there before the request, so a message that comes before its answer is not lost.
    const found = this.register(id);
    // An await that read its jobs itself only registers: a failure is then for the next registration.
    found.catch(() => undefined);
    let open = true;
    return {
      found,
      settled: held.settled,
      close: () => {
        if (!open) return;
        open = false;
        held.waiters -= 1;
      },
    };
  }

  /** Stops registering again, when the runtime closes. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async register(id: string): Promise<PromiseRecord | undefined> {
    const record = await this.promises.listen(id, this.address);
    if (record === undefined || record.state !== "pending") this.settle(id, record);
    return record;
  }

  private settle(id: string, record: PromiseRecord | undefined): void {
    const entry = this.entries.get(id);
    if (entry === undefined) return;
    this.entries.delete(id);
    entry.resolve(record);
  }

  private heard(message: Message): boolean {
    if (message.kind !== "unblock") return false;
    const record = (message.data as { promise?: PromiseRecord } | undefined)?.promise;
    if (record === undefined) return false;
    if (this.early.delete(record.id)) return true;
    if (!this.entries.has(record.id)) return false;
    this.settle(record.id, record);
    return true;
  }

  /** A job finished by this process: its awaits here have the settled promise, from the store's answer. */
  private fulfilled(response: unknown): void {
    const { head, data } = response as { head?: { status?: number }; data?: { promise?: PromiseRecord } };
    const record = data?.promise;
    if (head?.status !== 200 || record === undefined || record.state === "pending") return;
    if (!this.entries.has(record.id)) return;
    this.early.set(record.id, Date.now());
    this.settle(record.id, record);
    this.watch();
  }

  /** Registers again, now and then, the listeners awaits wait on, in case the store's message was lost. */
  private watch(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => {
      // A message that did not come by now will not: the listener was registered after the promise settled.
      const stale = Date.now() - this.recheckMs;
      for (const [id, at] of this.early) if (at < stale) this.early.delete(id);
      const waited = [...this.entries].filter(([, entry]) => entry.waiters > 0).map(([id]) => id);
      if (waited.length === 0 && this.entries.size === 0 && this.early.size === 0) this.stop();
      for (const id of waited)
        this.register(id).catch((error: unknown) =>
          log("debug", "cannot register a listener again", { job: id, error: errorText(error) }),
        );
    }, this.recheckMs);
    this.timer.unref();
  }
}

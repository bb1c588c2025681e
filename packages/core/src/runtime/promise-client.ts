/**
 * The few Resonate protocol requests the job model sends itself (read a promise, settle it), typed once, so
 * no other file builds raw protocol messages.
 */
import { randomUUID } from "node:crypto";
import { Codec, type Network } from "@resonatehq/sdk";
import { AsyncToolsError } from "../errors.ts";
import { speedUpCodec } from "./resonate-internals.ts";

/** A durable promise as the network returns it. */
export interface PromiseRecord {
  id: string;
  state: "pending" | "resolved" | "rejected" | "rejected_canceled" | "rejected_timedout";
  value?: { data?: string; headers?: Record<string, string> };
  param?: { data?: string; headers?: Record<string, string> };
  tags?: Record<string, string>;
  createdAt?: number;
  settledAt?: number;
  timeoutAt: number;
}

type Request = Parameters<Network["send"]>[0];
type Response = { head: { status: number }; data: unknown };

/** Reads and settles durable promises on one network. */
export class PromiseClient {
  private readonly network: Network;
  private readonly codec = new Codec();

  constructor(network: Network) {
    this.network = network;
    speedUpCodec(this.codec);
  }

  /** The promise `id`, or `undefined` when the store has none. */
  async get(id: string): Promise<PromiseRecord | undefined> {
    const res = await this.send({ kind: "promise.get", data: { id } });
    if (res.head.status === 404) return undefined;
    if (res.head.status !== 200) {
      throw new AsyncToolsError(
        "STORE_IO",
        `the store answered ${res.head.status} reading job ${id}: ${JSON.stringify(res.data)}`,
      );
    }
    return (res.data as { promise: PromiseRecord }).promise;
  }

  /**
   * Registers a listener at `address` on the promise `id`: the store sends an `unblock` message with the settled
   * promise there when it settles. Answers the promise as it is now, or `undefined` when the store has none.
   */
  async listen(id: string, address: string): Promise<PromiseRecord | undefined> {
    const res = await this.send({ kind: "promise.register_listener", data: { awaited: id, address } });
    if (res.head.status === 404) return undefined;
    if (res.head.status !== 200) {
      throw new AsyncToolsError(
        "STORE_IO",
        `the store answered ${res.head.status} listening to job ${id}: ${JSON.stringify(res.data)}`,
      );
    }
    return (res.data as { promise: PromiseRecord }).promise;
  }

  /** Rejects the pending promise `id` as cancelled, with `reason` as its value. */
  async cancel(id: string, reason: string): Promise<void> {
    const res = await this.send({
      kind: "promise.settle",
      data: { id, state: "rejected_canceled", value: this.codec.encode(reason) },
    });
    if (res.head.status >= 400 && res.head.status !== 409) {
      throw new AsyncToolsError(
        "STORE_IO",
        `the store answered ${res.head.status} cancelling job ${id}: ${JSON.stringify(res.data)}`,
      );
    }
  }

  /** Creates the promise `id` (no target: only a settle ends it), or finds it there already. */
  async create(id: string, timeoutAt: number, data: unknown, tags: Record<string, string>): Promise<void> {
    const res = await this.send({
      kind: "promise.create",
      data: { id, timeoutAt, param: this.codec.encode(data), tags },
    });
    if (res.head.status >= 300) {
      throw new Error(`the store answered ${res.head.status} creating ${id}: ${JSON.stringify(res.data)}`);
    }
  }

  /**
   * Resolves the pending promise `id` with `value`. `false` when it was settled already (or is unknown), so
   * this call settled nothing.
   */
  resolve(id: string, value: unknown): Promise<boolean> {
    return this.settle(id, "resolved", value);
  }

  /** Rejects the pending promise `id` with `value`; `false` when it was settled already (or is unknown). */
  reject(id: string, value: unknown): Promise<boolean> {
    return this.settle(id, "rejected", value);
  }

  private async settle(id: string, state: "resolved" | "rejected", value: unknown): Promise<boolean> {
    const res = await this.send({
      kind: "promise.settle",
      data: { id, state, value: this.codec.encode(value) },
    });
    if (res.head.status === 404 || res.head.status === 409) return false;
    if (res.head.status >= 300) {
      throw new Error(`the store answered ${res.head.status} settling ${id}: ${JSON.stringify(res.data)}`);
    }
    const promise = (res.data as { promise?: PromiseRecord }).promise;
    return promise === undefined || promise.state === state;
  }

  /**
   * Releases the task `id` at `version`, so the store hands it out again. `released` when it did, `gone` when
   * the store no longer has it acquired at that version (released, taken over or finished already).
   */
  async releaseTask(id: string, version: number): Promise<"released" | "gone"> {
    const res = await this.send({ kind: "task.release", data: { id, version } });
    if (res.head.status < 300) return "released";
    if (res.head.status === 404 || res.head.status === 409) return "gone";
    throw new AsyncToolsError(
      "STORE_IO",
      `the store answered ${res.head.status} releasing task ${id}: ${JSON.stringify(res.data)}`,
    );
  }

  /** Decodes a promise's value (its result or error); `undefined` when it cannot. */
  value(record: PromiseRecord): unknown {
    try {
      return this.codec.decode(record.value as never);
    } catch {
      return undefined;
    }
  }

  /** Decodes a promise's param (what it was created with); `undefined` when it cannot. */
  param(record: PromiseRecord): unknown {
    try {
      return this.codec.decode(record.param as never);
    } catch {
      return undefined;
    }
  }

  /** Decodes the arguments a job was started with (`param.data.args`). */
  args(record: PromiseRecord): unknown {
    try {
      const param = this.codec.decode(record.param as never) as { args?: unknown[] } | undefined;
      return param?.args?.[0];
    } catch {
      return undefined;
    }
  }

  private async send(body: { kind: string; data: Record<string, unknown> }): Promise<Response> {
    const request = { ...body, head: { corrId: randomUUID(), version: "" } } as unknown as Request;
    return (await this.network.send(request)) as unknown as Response;
  }
}

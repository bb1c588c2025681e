/**
 * Requests of the Resonate SDK's protocol, built by hand for the tests that drive a store network directly
 * (`network.send`, `sendAt`): a promise created and settled, with recognisable param and value.
 */
import { randomUUID } from "node:crypto";
import type { Request } from "@resonatehq/sdk";

/** A request head with a fresh correlation ID. */
export const head = () => ({ corrId: randomUUID(), version: "test" });

/**
 * Creates the promise `id`, due in an hour, with param `param of <id>`; its origin is `id` up to its first `:`
 * (a job's own promise is its own origin, its step `job:1` the job's). `tags` are added, e.g. a
 * `resonate:target` to give it a task and due times, as a job's root promise has.
 */
export function create(id: string, now: number, tags: Record<string, string> = {}): Request {
  return {
    kind: "promise.create",
    head: head(),
    data: {
      id,
      timeoutAt: now + 3_600_000,
      param: { headers: {}, data: `param of ${id}` },
      tags: { "resonate:origin": id.split(":")[0] as string, ...tags },
    },
  };
}

/** Resolves the promise `id` with the value `value of <id>`. */
export function settle(id: string): Request {
  return {
    kind: "promise.settle",
    head: head(),
    data: { id, state: "resolved", value: { headers: {}, data: `value of ${id}` } },
  };
}

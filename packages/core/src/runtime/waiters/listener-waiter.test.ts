import { LocalNetwork, type Message, type Network } from "@resonatehq/sdk";
import { describe, expect, it } from "vitest";
import { askingTool, gate, squareTool, waitOnce } from "../../../test/helpers.ts";
import type { AnyAsyncTool } from "../../define.ts";
import { createAsyncTools } from "../../index.ts";
import { relayed } from "../network-relay.ts";
import { PromiseClient } from "../promise-client.ts";
import { Questions } from "../questions.ts";
import { internalsOf } from "../runtime.ts";
import { ListenerWaiter } from "./listener-waiter.ts";

/** A recheck interval no test lasts: what ends a wait here is a listener, or a question polled for. */
const NEVER_MS = 3_600_000;

/**
 * A runtime on the SDK's in-memory store (it has no change feed), and a listener waiter beside it on the same
 * store, which hears only the messages `hear` passes. Each promise request is recorded as `kind id`.
 */
async function onLocalStore(
  tools: AnyAsyncTool[],
  options: { recheckMs?: number; hear?: (message: Message) => boolean } = {},
) {
  const store = new LocalNetwork();
  const requests: string[] = [];
  const counted = relayed(store, {
    send: ((request: { kind: string; data: { id?: string; awaited?: string } }) => {
      if (request.kind.startsWith("promise."))
        requests.push(`${request.kind} ${request.data.id ?? request.data.awaited}`);
      return store.send(request as never);
    }) as Network["send"],
  });
  const runtime = await createAsyncTools({ store: counted, tools });
  const { engine, meta } = internalsOf(runtime);
  const promises = new PromiseClient(counted);
  const recheckMs = options.recheckMs ?? NEVER_MS;
  const waiter = new ListenerWaiter(promises, meta, new Questions(promises), undefined, recheckMs);
  const hear = options.hear ?? (() => true);
  const heard = relayed(counted, {
    recv: (callback) =>
      store.recv((message) => {
        if (hear(message)) callback(message);
      }),
  });
  waiter.tap(heard).recv(() => undefined);
  const of = (jobId: string) => requests.filter((request) => request.endsWith(` ${jobId}`));
  return { runtime, waiter, reads: engine.readsIn({}), of, [Symbol.dispose]: () => waiter.stop() };
}

describe("waiting through listeners", () => {
  it("reads a job by registering its listener, and ends with the settled job the store's message carries", async () => {
    const hold = gate();
    const square = squareTool({ runs: 0 }, hold.promise);
    using local = await onLocalStore([square]);
    await using _ = local.runtime;
    const { jobId } = await local.runtime.start(square, { n: 6 });
    const before = local.of(jobId).length;
    const wait = await waitOnce(local.waiter, local.reads, jobId, () => hold.open());
    expect(wait.first).toMatchObject([{ jobId, status: "working" }]);
    expect(await wait.last()).toMatchObject([{ jobId, status: "completed", result: { square: 36 } }]);
    // One request for the whole wait: the registration read the job, the message brought it settled.
    expect(local.of(jobId).slice(before)).toEqual([`promise.register_listener ${jobId}`]);
  });

  it("registers its listener again after a lost message, and ends with the job that registration reads", async () => {
    const hold = gate();
    const square = squareTool({ runs: 0 }, hold.promise);
    let job: string | undefined;
    const lost: string[] = [];
    using local = await onLocalStore([square], {
      recheckMs: 100,
      hear: (message) => {
        const promise = (message.data as { promise?: { id: string } } | undefined)?.promise;
        if (message.kind !== "unblock" || job === undefined || promise?.id !== job || lost.length > 0)
          return true;
        lost.push(job);
        return false;
      },
    });
    await using _ = local.runtime;
    const { jobId } = await local.runtime.start(square, { n: 5 });
    job = jobId;
    const before = local.of(jobId).length;
    const wait = await waitOnce(local.waiter, local.reads, jobId, () => hold.open());
    expect(lost).toEqual([jobId]);
    expect(await wait.last()).toMatchObject([{ jobId, status: "completed", result: { square: 25 } }]);
    const requests = local.of(jobId).slice(before);
    expect(requests.length).toBeGreaterThanOrEqual(2);
    expect(new Set(requests)).toEqual(new Set([`promise.register_listener ${jobId}`]));
  });

  it("ends when a job asks, looked at by polling where the store has no feed", async () => {
    const hold = gate();
    const asker = askingTool(hold.promise);
    using local = await onLocalStore([asker]);
    await using _ = local.runtime;
    const { jobId } = await local.runtime.start(asker, { n: 1 });
    const wait = await waitOnce(local.waiter, local.reads, jobId, () => hold.open());
    expect(wait.first).toMatchObject([{ jobId, status: "working" }]);
    const [last] = await wait.last();
    expect(last).toMatchObject({ jobId, status: "input_required" });
    expect(last?.questions).toHaveLength(1);
  });
});

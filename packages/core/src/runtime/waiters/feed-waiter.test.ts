import { describe, expect, it } from "vitest";
import { askingTool, gate, squareTool, waitOnce } from "../../../test/helpers.ts";
import type { AnyAsyncTool } from "../../define.ts";
import { createAsyncTools } from "../../index.ts";
import type { ChangeFeed } from "../../store/store.ts";
import { internalsOf } from "../runtime.ts";
import { FeedWaiter } from "./feed-waiter.ts";
import type { JobReads } from "./waiter.ts";

/** A recheck interval no test lasts: what ends a wait here is the feed, or the wait's first round. */
const NEVER_MS = 3_600_000;

/** The memory store (its feed is complete), a feed waiter on it, the engine's reads counted, and its requests. */
async function onMemoryStore(tools: AnyAsyncTool[]) {
  const runtime = await createAsyncTools({ store: "memory", tools });
  const { engine, store } = internalsOf(runtime);
  const feed = store.changes as ChangeFeed;
  expect(feed.complete).toBe(true);
  const requests: string[] = [];
  const send = store.network.send;
  store.network.send = ((request: { kind: string }) => {
    requests.push(request.kind);
    return send(request as never);
  }) as typeof send;
  const engineReads = engine.readsIn({});
  const counted = { now: 0, from: 0 };
  const reads: JobReads = {
    now: (id) => {
      counted.now += 1;
      return engineReads.now(id);
    },
    from: (id, record, progress) => {
      counted.from += 1;
      return engineReads.from(id, record, progress);
    },
  };
  return { runtime, waiter: new FeedWaiter(feed, NEVER_MS), reads, counted, requests };
}

describe("waiting on a complete change feed", () => {
  it("ends on the feed alone: no listener, the job read on the feed's word, and that read is the answer", async () => {
    const hold = gate();
    const square = squareTool({ runs: 0 }, hold.promise);
    const { runtime, waiter, reads, counted, requests } = await onMemoryStore([square]);
    await using _ = runtime;
    const { jobId } = await runtime.start(square, { n: 7 });
    const wait = await waitOnce(waiter, reads, jobId, () => hold.open());
    expect(wait.first).toMatchObject([{ jobId, status: "working" }]);
    const readsBeforeLast = counted.now;
    expect(await wait.last()).toMatchObject([
      { jobId, status: "completed", result: { square: 49, label: "x" } },
    ]);
    // The wait read the job first and then on the feed's word until it found it finished, never from a promise
    // a listener brought; its last read was the one that found the job finished.
    expect(readsBeforeLast).toBeGreaterThanOrEqual(2);
    expect(counted.now).toBe(readsBeforeLast);
    expect(counted.from).toBe(0);
    expect(requests).not.toContain("promise.register_listener");
  });

  it("ends when the job finishes although the list names it twice", async () => {
    const hold = gate();
    const square = squareTool({ runs: 0 }, hold.promise);
    const runtime = await createAsyncTools({ store: "memory", tools: [square] });
    await using _ = runtime;
    const { engine } = internalsOf(runtime);
    const { jobId } = await runtime.start(square, { n: 4 });
    // The wait's bound is far beyond the test's: only the job finishing can end it in time.
    const waiting = engine.wait([jobId, jobId], NEVER_MS);
    hold.open();
    expect(await waiting).toMatchObject([
      { jobId, status: "completed", result: { square: 16 } },
      { jobId, status: "completed", result: { square: 16 } },
    ]);
  }, 60_000);

  it("ends when a job asks, and reads it whole as the wait ends", async () => {
    const hold = gate();
    const asker = askingTool(hold.promise);
    const { runtime, waiter, reads } = await onMemoryStore([asker]);
    await using _ = runtime;
    const { jobId } = await runtime.start(asker, { n: 1 });
    const wait = await waitOnce(waiter, reads, jobId, () => hold.open());
    expect(wait.first).toMatchObject([{ jobId, status: "working" }]);
    const [last] = await wait.last();
    expect(last).toMatchObject({ jobId, status: "input_required" });
    expect(last?.questions).toHaveLength(1);
  });

  it("looks at jobs the caller read already at once: one that finished in between ends the wait unheard", async () => {
    const square = squareTool({ runs: 0 });
    const { runtime, waiter, reads, counted } = await onMemoryStore([square]);
    await using _ = runtime;
    const started = await runtime.start(square, { n: 3 });
    const stale = [{ jobId: started.jobId, status: "working" as const }];
    await runtime.waitFor(square, started.jobId, 30_000);
    // The job finished before the wait began: the feed says nothing more of it.
    const waiting = waiter.begin([started.jobId], reads, true);
    await waiting.until([started.jobId]);
    waiting.close();
    expect(await waiting.last(stale)).toMatchObject([
      { jobId: started.jobId, status: "completed", result: { square: 9 } },
    ]);
    expect(counted.now).toBe(1);
  });
});

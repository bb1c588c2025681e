import { join } from "node:path";
import { tempDir } from "@async-tools/test-helpers/temp";
import type { Network } from "@resonatehq/sdk";
import { describe, expect, it } from "vitest";
import { threeStepsTool } from "../../test/helpers.ts";
import { createAsyncTools } from "../index.ts";
import { internalsOf } from "./runtime.ts";

const threeSteps = threeStepsTool();

/** Counts the protocol requests `network` is sent from now on, by kind. */
function countRequests(network: Network): Map<string, number> {
  const counts = new Map<string, number>();
  const send = network.send;
  network.send = ((request: { kind: string }) => {
    counts.set(request.kind, (counts.get(request.kind) ?? 0) + 1);
    return send(request as never);
  }) as Network["send"];
  return counts;
}

describe("the protocol requests of a job on the SQLite store", () => {
  it("starts and awaits a three-step job with two reads of its promise and no listener", async () => {
    using dir = tempDir("requests-per-job");
    await using tools = await createAsyncTools({
      store: `sqlite:${join(dir.path, "jobs.db")}`,
      tools: [threeSteps],
    });
    // The SQLite network behind the store's switching front, which every request passes (Resonate's own too).
    const front = internalsOf(tools).store.network as unknown as { current: Network };
    const counts = countRequests(front.current);
    const jobs = 8;
    await Promise.all(
      Array.from({ length: jobs }, async (_, n) => {
        const started = await tools.start(threeSteps, { n });
        const [job] = await tools.wait([started.jobId], { timeoutMs: 30_000 });
        expect(job).toMatchObject({ status: "completed", result: { total: n * 6 } });
      }),
    );
    // Per job: the read before the wait and the read once the change feed tells of the settle. The owner's feed
    // is complete, so no listener of Resonate's is registered (and read for); a running job's check for
    // cancels is answered from RAM.
    expect(Object.fromEntries(counts)).toEqual({
      "task.create": jobs,
      "task.fence": 6 * jobs,
      "promise.get": 2 * jobs,
      "task.fulfill": jobs,
    });
  });
});

import { describe, expect, it } from "vitest";
import { z } from "zod";
import { gate } from "../../test/helpers.ts";
import { createAsyncTools, defineAsyncTool, PermanentError } from "../index.ts";

/** A tool whose first run of each input fails for good and whose later runs wait for `hold`. */
function flakyOnce(hold: Promise<void>) {
  const seen = new Set<number>();
  return defineAsyncTool({
    name: "flaky",
    description: "Fails its first run, then waits",
    input: z.object({ n: z.number() }),
    output: z.object({ n: z.number() }),
    run: async (ctx, { n }) =>
      ctx.run("work", async () => {
        if (!seen.has(n)) {
          seen.add(n);
          throw new PermanentError("first run fails");
        }
        await hold;
        return { n };
      }),
  });
}

describe("retrying a job", () => {
  it("returns the running retry instead of starting another, one after the other or at once", async () => {
    const hold = gate();
    const tool = flakyOnce(hold.promise);
    await using runtime = await createAsyncTools({ store: "memory", tools: [tool] });
    const failed = async (n: number) => {
      const job = await runtime.start(tool, { n });
      const [done] = await runtime.wait([job.jobId], { timeoutMs: 10_000 });
      expect(done?.status).toBe("failed");
      return job.jobId;
    };

    const one = await failed(1);
    const first = await runtime.retry(one);
    expect(first).toMatchObject({ jobId: `${one}.r2`, created: true });
    const second = await runtime.retry(one);
    expect(second).toMatchObject({ jobId: `${one}.r2`, created: false });
    expect(["queued", "working"]).toContain(second.status);

    const two = await failed(2);
    const both = await Promise.all([runtime.retry(two), runtime.retry(two), runtime.retry(two)]);
    expect(both.map((job) => job.jobId)).toEqual([`${two}.r2`, `${two}.r2`, `${two}.r2`]);
    expect(both.filter((job) => job.created)).toHaveLength(1);

    // A newest run that completed is the answer too; one that failed again is retried with a fresh run.
    hold.open();
    await runtime.wait([`${one}.r2`], { timeoutMs: 10_000 });
    expect(await runtime.retry(one)).toMatchObject({
      jobId: `${one}.r2`,
      status: "completed",
      created: false,
    });
    const three = await failed(3);
    await runtime.cancel((await runtime.retry(three)).jobId);
    expect(await runtime.retry(three)).toMatchObject({ jobId: `${three}.r3`, created: true });
  });
});

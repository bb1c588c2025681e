import { describe, expect, it } from "vitest";
import { z } from "zod";
import { squareTool } from "../../test/helpers.ts";
import { createAsyncTools, defineAsyncTool } from "../index.ts";

describe("a principal on the programmatic API", () => {
  it("gives each principal its own job for one input, blind to the others'", async () => {
    const counter = { runs: 0 };
    const square = squareTool(counter);
    await using runtime = await createAsyncTools({ store: "memory", tools: [square] });
    const alice = await runtime.start(square, { n: 3 }, { principal: "alice" });
    const bob = await runtime.start(square, { n: 3 }, { principal: "bob" });
    const nobody = await runtime.start(square, { n: 3 });
    expect(new Set([alice.jobId, bob.jobId, nobody.jobId]).size).toBe(3);
    expect((await runtime.start(square, { n: 3 }, { principal: "alice" })).created).toBe(false);

    expect(await runtime.waitFor(square, alice.jobId, 10_000, { principal: "alice" })).toMatchObject({
      status: "completed",
      result: { square: 9 },
    });
    const [seenByBob] = await runtime.wait([alice.jobId], { timeoutMs: 10_000, principal: "bob" });
    expect(seenByBob).toEqual({
      jobId: alice.jobId,
      status: "not_found",
      error: { code: "not_found" },
    });
    expect((await runtime.probe([alice.jobId]))[0]?.status).toBe("not_found");
    expect((await runtime.probe([nobody.jobId], { principal: "alice" }))[0]?.status).toBe("not_found");
    expect((await runtime.cancel(bob.jobId, "no", { principal: "alice" })).status).toBe("not_found");

    const listed = async (principal?: string) =>
      (await runtime.list(principal === undefined ? {} : { principal })).jobs.map((j) => j.jobId);
    expect(await listed("alice")).toEqual([alice.jobId]);
    expect(await listed("bob")).toEqual([bob.jobId]);
    expect(await listed()).toEqual([nobody.jobId]);
    await runtime.wait([bob.jobId, nobody.jobId], { timeoutMs: 10_000, principal: "bob" });
    expect(counter.runs).toBe(3);
  });

  it("keeps custom job IDs apart per principal", async () => {
    const named = defineAsyncTool({
      name: "named",
      description: "A custom ID",
      input: z.object({ key: z.string() }),
      jobId: ({ key }) => key,
      run: async (_ctx, { key }) => key,
    });
    await using runtime = await createAsyncTools({ store: "memory", tools: [named] });
    const plain = await runtime.start(named, { key: "k" });
    const alice = await runtime.start(named, { key: "k" }, { principal: "alice" });
    expect(plain.jobId).toBe("named-k");
    expect(alice.jobId).toMatch(/^named-k-[0-9a-f]{16}$/);
    expect((await runtime.probe([alice.jobId], { principal: "alice" }))[0]?.status).not.toBe("not_found");
  });
});

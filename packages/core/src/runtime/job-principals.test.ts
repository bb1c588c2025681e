import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createAsyncTools, defineAsyncTool } from "../index.ts";
import { JobPrincipals } from "./job-principals.ts";
import type { PromiseClient } from "./promise-client.ts";
import { type AsyncTools, internalsOf } from "./runtime.ts";

const echo = defineAsyncTool({
  name: "echo",
  description: "Returns its input",
  input: z.object({ n: z.number() }),
  run: async (_ctx, { n }) => n,
});

/** A memory runtime (closed on dispose), its engine's principals, and its promises with their reads counted. */
async function opened(): Promise<
  AsyncDisposable & {
    runtime: AsyncTools;
    principals: JobPrincipals;
    counted: PromiseClient;
    reads: () => number;
  }
> {
  const runtime = await createAsyncTools({ name: "principals", store: "memory", tools: [echo] });
  const { engine, promises } = internalsOf(runtime);
  let reads = 0;
  const counted = Object.create(promises, {
    get: {
      value: (id: string) => {
        reads += 1;
        return promises.get(id);
      },
    },
  }) as PromiseClient;
  return {
    runtime,
    principals: engine.principals,
    counted,
    reads: () => reads,
    [Symbol.asyncDispose]: () => runtime.close(),
  };
}

describe("whose each job is", () => {
  it("knows the jobs this process started, without a read", async () => {
    await using opening = await opened();
    const { runtime, principals, counted, reads } = opening;
    const alice = await runtime.start(echo, { n: 1 }, { principal: "alice" });
    const nobody = await runtime.start(echo, { n: 1 });
    expect(principals.peek(alice.jobId)).toBe("alice");
    expect(await principals.of(nobody.jobId, counted)).toBe("");
    expect(reads()).toBe(0);
  });

  it("reads another process's job once however many ask, and nothing for a job the store lacks", async () => {
    await using opening = await opened();
    const { runtime, counted, reads } = opening;
    const { jobId } = await runtime.start(echo, { n: 2 }, { principal: "bob" });
    // A process that did not start it: a table of its own.
    const elsewhere = new JobPrincipals();
    const asked = await Promise.all([1, 2, 3].map(() => elsewhere.of(jobId, counted)));
    expect(asked).toEqual(["bob", "bob", "bob"]);
    expect(await elsewhere.of(jobId, counted)).toBe("bob");
    expect(reads()).toBe(1);
    expect(await elsewhere.of("echo-0000000000000000", counted)).toBeUndefined();
    expect(elsewhere.peek("echo-0000000000000000")).toBeUndefined();
  });

  it("keeps the latest jobs it met, up to its bound", () => {
    const principals = new JobPrincipals(2);
    principals.note("a", "alice");
    principals.note("b", undefined);
    principals.note("a", "alice");
    principals.note("c", "carol");
    expect([principals.peek("a"), principals.peek("b"), principals.peek("c")]).toEqual([
      "alice",
      undefined,
      "carol",
    ]);
  });
});

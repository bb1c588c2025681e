import { Codec, LocalNetwork } from "@resonatehq/sdk";
import { type Context, Resonate } from "@resonatehq/sdk/async";
import { afterEach, describe, expect, it } from "vitest";
import {
  installExecutionHooks,
  lostTask,
  memoizeTargets,
  observeTaskCreate,
  refusedForGood,
  speedUpCodec,
} from "./resonate-internals.ts";

const RealURL = globalThis.URL;

afterEach(() => {
  globalThis.URL = RealURL;
});

/** Counts `new URL()` calls from here on. */
function countUrls(): { count: number } {
  const counter = { count: 0 };
  globalThis.URL = class extends RealURL {
    constructor(...args: ConstructorParameters<typeof URL>) {
      counter.count++;
      super(...args);
    }
  } as typeof URL;
  return counter;
}

describe("memoizeTargets", () => {
  it("resolves targets to the same addresses, building a URL once per target instead of on every option build", async () => {
    const network = new LocalNetwork();
    const plain = new Resonate({ network });
    const memoized = new Resonate({ network: new LocalNetwork() });
    memoizeTargets(memoized);
    memoizeTargets(memoized);
    const targets = [undefined, "default", "workers", "poll://any@elsewhere/p1"];
    for (const target of targets) {
      const opts = target === undefined ? {} : { target };
      expect(memoized.options(opts).target).toBe(plain.options(opts).target);
    }
    const urls = countUrls();
    for (let i = 0; i < 100; i++) memoized.options({ target: "default" });
    expect(urls.count).toBe(0);
    for (let i = 0; i < 100; i++) plain.options({ target: "default" });
    expect(urls.count).toBe(100);
    await plain.stop();
    await memoized.stop();
  });
});

describe("speedUpCodec", () => {
  const aggregate = new AggregateError([new Error("one"), new TypeError("two")], "both");
  const named = Object.assign(new Error("named"), { name: "UpstreamError" });
  const values: unknown[] = [
    null,
    0,
    -1.5,
    "",
    "plain",
    "ünïcödé ✓ 日本 😀",
    "__INF__ in a sentence",
    "a__b",
    true,
    [],
    {},
    { n: 1, nested: { list: [1, "two", null, { deep: [Number.POSITIVE_INFINITY] }] } },
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    { lo: Number.NEGATIVE_INFINITY, hi: Number.POSITIVE_INFINITY, nan: Number.NaN },
    new Error("boom"),
    named,
    { error: new RangeError("inner") },
    aggregate,
    { func: "square", args: [{ n: 3, label: "x" }], retry: { type: "never", data: {} }, version: 1 },
    { date: new Date(0) },
    "x".repeat(100_000),
  ];

  it("encodes every value to the SDK's bytes and decodes every text to the SDK's value", () => {
    const sdk = new Codec();
    const fast = new Codec();
    speedUpCodec(fast);
    speedUpCodec(fast);
    for (const value of [...values, undefined]) {
      const ours = fast.encode(value);
      expect(ours).toEqual(sdk.encode(value));
      expect(fast.decode(ours)).toEqual(sdk.decode(ours));
    }
    // Texts the SDK wrote (or anyone else did), read back by the fast codec.
    for (const value of values) {
      const written = sdk.encode(value);
      const read = fast.decode(written);
      expect(read).toEqual(sdk.decode(written));
      if (read instanceof Error) {
        const theirs = sdk.decode(written) as Error;
        expect([read.name, read.message, read.stack]).toEqual([theirs.name, theirs.message, theirs.stack]);
        expect(read.constructor).toBe(theirs.constructor);
      }
    }
    const readAggregate = fast.decode(sdk.encode(aggregate)) as AggregateError;
    expect(readAggregate).toBeInstanceOf(AggregateError);
    expect(readAggregate.errors.map((e: Error) => e.message)).toEqual(["one", "two"]);
  });

  it("leaves what the SDK refuses to the SDK's own errors", () => {
    const sdk = new Codec();
    const fast = new Codec();
    speedUpCodec(fast);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const thrown = (fn: () => unknown): string => {
      try {
        fn();
      } catch (error) {
        return (error as Error).message;
      }
      throw new Error("did not throw");
    };
    expect(thrown(() => fast.encode(cyclic))).toBe(thrown(() => sdk.encode(cyclic)));
    const broken = { headers: {}, data: Buffer.from("{not json", "utf8").toString("base64") };
    expect(thrown(() => fast.decode(broken))).toBe(thrown(() => sdk.decode(broken)));
    expect(fast.decode({ headers: {}, data: "" })).toBeUndefined();
  });
});

describe("lostTask", () => {
  it("recognises what the SDK throws when a step ends after its task went to another execution", async () => {
    const network = new LocalNetwork();
    const resonate = new Resonate({ network });
    let stepBegan: () => void = () => undefined;
    const began = new Promise<void>((resolve) => {
      stepBegan = resolve;
    });
    let finishStep: () => void = () => undefined;
    const finish = new Promise<void>((resolve) => {
      finishStep = resolve;
    });
    let thrown: unknown;
    resonate.register("job", async (ctx: Context) => {
      try {
        return await ctx.run(async () => {
          stepBegan();
          await finish;
          return 1;
        });
      } catch (error) {
        thrown = error;
        throw error;
      }
    });
    void resonate.run("lost-1", "job").catch(() => undefined);
    await began;
    // What the store's timeout tick does when the lease lapsed: the task is pending again, for anyone.
    const released = await network.send({
      kind: "task.release",
      head: { corrId: "release-1", version: "" },
      data: { id: "lost-1", version: 1 },
    } as Parameters<typeof network.send>[0]);
    expect(released.head.status).toBe(200);
    finishStep();
    await expect.poll(() => thrown).toBeDefined();
    expect(lostTask(thrown)).toBe(true);
    expect(lostTask(new Error("Fence check failed"))).toBe(false);
    await resonate.stop();
  });
});

describe("refusedForGood", () => {
  it("recognises what the SDK throws when the store answers a request with a 422, and nothing else", async () => {
    const network = new LocalNetwork();
    const resonate = new Resonate({ network });
    resonate.register("job", async () => 1);
    // A promise with no target cannot carry a task: the protocol's task.create answers 422 for it.
    const created = await network.send({
      kind: "promise.create",
      head: { corrId: "create-1", version: "" },
      data: { id: "plain-1", timeoutAt: Date.now() + 60_000, param: { headers: {} }, tags: {} },
    } as Parameters<typeof network.send>[0]);
    expect(created.head.status).toBe(200);
    const thrown = await resonate.run("plain-1", "job").then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refusedForGood(thrown)).toBe(422);
    expect(lostTask(thrown)).toBe(false);
    expect(refusedForGood(new Error("unprocessable entity"))).toBeUndefined();
    await resonate.stop();
  });
});

describe("the SDK shape guards", () => {
  it("refuse an SDK whose private parts moved with SDK_MISMATCH", () => {
    const moved = {} as unknown as Resonate;
    const hooks = {
      unregistered: () => undefined,
      failed: () => undefined,
      undelivered: () => undefined,
      suspended: () => undefined,
    };
    for (const patch of [
      () => memoizeTargets(moved),
      () => observeTaskCreate(moved, () => undefined),
      () => installExecutionHooks(moved, hooks),
      () => speedUpCodec({}),
    ]) {
      expect(patch).toThrow(expect.objectContaining({ name: "AsyncToolsError", code: "SDK_MISMATCH" }));
    }
  });
});

import { LocalNetwork } from "@resonatehq/sdk";
import { Resonate } from "@resonatehq/sdk/async";
import { afterEach, describe, expect, it } from "vitest";
import { memoizeTargets } from "./resonate-internals.ts";

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

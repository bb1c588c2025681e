/**
 * Canaries: each test runs the UNPATCHED `@resonatehq/sdk` and asserts that the defect one patch of
 * `resonate-internals.ts` works around is still there. When an SDK upgrade fixes a defect, its canary fails
 * and names the patch to delete. (`memoizeTargets`' own test shows the unpatched SDK building a URL per
 * option build; `observeTaskCreate` and `speedUpCodec` add what the SDK does not offer, and fix no defect.)
 */
import { LocalNetwork, type Logger } from "@resonatehq/sdk";
import { type Context, Resonate } from "@resonatehq/sdk/async";
import { describe, it, type onTestFinished } from "vitest";

type Request = Parameters<LocalNetwork["send"]>[0];
type Core = {
  heartbeat: { start(task: { id: string }): void };
  releaseTask(...args: unknown[]): Promise<void>;
};

/**
 * An unpatched Resonate on a local network whose requests `refuse` may fail, as a full disk would, stopped
 * when the test ends (`finished` is the test's own `onTestFinished`: the tests run at the same time).
 */
function unpatched(finished: typeof onTestFinished, refuse: (request: Request) => boolean = () => false) {
  const network = new LocalNetwork();
  const send = network.send;
  network.send = (request) => (refuse(request) ? Promise.reject(new Error("disk I/O error")) : send(request));
  const messages: string[] = [];
  const quiet = () => undefined;
  const logger: Logger = {
    debug: quiet,
    info: quiet,
    warn: (_fields, msg) => messages.push(msg),
    error: (_fields, msg) => messages.push(msg),
  };
  const resonate = new Resonate({ network, logger });
  finished(() => resonate.stop());
  const core = (resonate as unknown as { core: Core }).core;
  return { network, resonate, core, messages };
}

/** Counts the calls of `method` on `target` from here on. */
function countCalls<T extends object>(target: T, method: keyof T): { count: number } {
  const counter = { count: 0 };
  const original = (target[method] as (...args: unknown[]) => unknown).bind(target);
  (target as Record<keyof T, unknown>)[method] = (...args: unknown[]) => {
    counter.count += 1;
    return original(...args);
  };
  return counter;
}

async function state(network: LocalNetwork, id: string): Promise<string | undefined> {
  const res = await network.send({
    kind: "promise.get",
    head: { corrId: `get-${id}`, version: "" },
    data: { id },
  } as Request);
  return (res.data as { promise?: { state?: string } }).promise?.state;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Concurrent: two canaries wait out two ticks of the store, and need not wait one after the other.
describe.concurrent("the unpatched Resonate SDK (canaries: a failure here names a patch to delete)", () => {
  it("still runs the task Resonate.run creates without a heartbeat (patch 1: heartbeat in installExecutionHooks)", async ({
    expect,
    onTestFinished,
  }) => {
    const { resonate, core } = unpatched(onTestFinished);
    const heartbeats = countCalls(core.heartbeat, "start");
    resonate.register("job", async (ctx: Context) => ctx.run(async () => 1));
    expect(await (await resonate.run("canary-lease", "job")).result()).toBe(1);
    expect(heartbeats.count).toBe(0);
  });

  it("still releases a task of an unregistered version again and again (patch 2: unregistered in installExecutionHooks)", async ({
    expect,
    onTestFinished,
  }) => {
    const { network, resonate, core, messages } = unpatched(onTestFinished);
    const releases = countCalls(core, "releaseTask");
    resonate.register("job", async () => 1, { version: 1 });
    await resonate.rpc("canary-version", "job", resonate.options({ version: 2 }));
    await expect.poll(() => releases.count, { timeout: 30_000 }).toBeGreaterThanOrEqual(3);
    expect(messages.join("\n")).toMatch(/not registered/);
    expect(await state(network, "canary-version")).toBe("pending");
  });

  it("still tries once to release a task whose execution failed on a refused write (patch 3: failed in installExecutionHooks)", async ({
    expect,
    onTestFinished,
  }) => {
    let refusing = true;
    const { network, resonate, core } = unpatched(
      onTestFinished,
      (request) => refusing && (request.kind === "task.fulfill" || request.kind === "task.release"),
    );
    const releases = countCalls(core, "releaseTask");
    let runs = 0;
    resonate.register("job", async () => {
      runs += 1;
      return 1;
    });
    await resonate.run("canary-release", "job").catch(() => undefined);
    await expect.poll(() => releases.count).toBe(1);
    refusing = false;
    // The store takes writes again; two ticks of the store later nothing has released the task or run it again.
    await pause(2500);
    expect(releases.count).toBe(1);
    expect(runs).toBe(1);
    expect(await state(network, "canary-release")).toBe("pending");
  });

  it("still drops an execute message whose task.acquire failed (patch 4: undelivered in installExecutionHooks)", async ({
    expect,
    onTestFinished,
  }) => {
    let refused = 0;
    const { network, resonate } = unpatched(onTestFinished, (request) => {
      if (request.kind !== "task.acquire" || refused > 0) return false;
      refused += 1;
      return true;
    });
    let runs = 0;
    resonate.register("job", async () => {
      runs += 1;
      return 1;
    });
    await resonate.rpc("canary-delivery", "job", resonate.options({}));
    await expect.poll(() => refused).toBe(1);
    // Two ticks of the store later the pending task has not been delivered again.
    await pause(2500);
    expect(runs).toBe(0);
    expect(await state(network, "canary-delivery")).toBe("pending");
  });
});

import { LocalNetwork } from "@resonatehq/sdk";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { defineAsyncTool } from "../../define.ts";
import { connectInMemory } from "../../testing/index.ts";

/** A local network that counts the `promise.get` requests for each job. */
function countingNetwork() {
  const network = new LocalNetwork();
  const reads = new Map<string, number>();
  const listeners = new Map<string, number>();
  const send = network.send;
  network.send = (request) => {
    if (request.kind === "promise.get") {
      const id = (request.data as { id: string }).id;
      reads.set(id, (reads.get(id) ?? 0) + 1);
    }
    if (request.kind === "promise.register_listener") {
      const id = (request.data as { awaited: string }).awaited;
      listeners.set(id, (listeners.get(id) ?? 0) + 1);
    }
    return send(request);
  };
  return { network, reads, listeners };
}

describe("the await tool", () => {
  it("reads a finished job from the store once", async () => {
    const { network, reads, listeners } = countingNetwork();
    const echo = defineAsyncTool({
      name: "echo",
      description: "Echoes",
      input: z.object({ n: z.number() }),
      run: async (_ctx, { n }) => n,
    });
    await using c = await connectInMemory([echo], { store: network });
    const started = await c.call("start_echo", { n: 1 });
    const jobId = (started.structuredContent as { job_id: string }).job_id;
    await expect
      .poll(
        async () =>
          (
            (await c.call("probe_echo", { job_ids: [jobId] })).structuredContent as {
              jobs: { status: string }[];
            }
          ).jobs[0]?.status,
      )
      .toBe("completed");
    reads.clear();
    const awaited = await c.call("await_echo", { job_ids: [jobId], timeout_seconds: 5 });
    expect((awaited.structuredContent as { jobs: { result: unknown }[] }).jobs[0]?.result).toBe(1);
    expect(reads.get(jobId)).toBe(1);
    expect(listeners.get(jobId)).toBeUndefined();
  });

  it("reads a job that finishes during the wait once, before the wait: its end comes with the settled job", async () => {
    const { network, reads, listeners } = countingNetwork();
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const held = defineAsyncTool({
      name: "held",
      description: "Waits for the test",
      input: z.object({ n: z.number() }),
      run: async (ctx, { n }) =>
        ctx.run("wait", async () => {
          await gate;
          return n;
        }),
    });
    await using c = await connectInMemory([held], { store: network });
    const started = await c.call("start_held", { n: 2 });
    const jobId = (started.structuredContent as { job_id: string }).job_id;
    reads.clear();
    const awaiting = c.call("await_held", { job_ids: [jobId], timeout_seconds: 30 });
    await expect.poll(() => reads.get(jobId) ?? 0).toBeGreaterThan(0);
    open();
    const awaited = await awaiting;
    expect((awaited.structuredContent as { jobs: { result: unknown }[] }).jobs[0]?.result).toBe(2);
    // One read before the wait; the wait only registers its listener, and reads nothing once the job ends.
    expect(reads.get(jobId)).toBe(1);
    expect(listeners.get(jobId)).toBe(1);
  });
});

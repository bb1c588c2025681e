import { describe, expect, it } from "vitest";
import { Slots } from "./slots.ts";

describe("Slots", () => {
  it("runs at most `limit` jobs and lets the waiting ones in in start order", async () => {
    const slots = new Slots(2);
    const order: string[] = [];
    const a = await slots.acquire("a");
    const b = await slots.acquire("b");
    const c = slots.acquire("c").then((release) => {
      order.push("c");
      return release;
    });
    const d = slots.acquire("d").then((release) => {
      order.push("d");
      return release;
    });
    expect(slots.position("c")).toBe(1);
    expect(slots.position("d")).toBe(2);
    expect(slots.load).toEqual({ running: 2, queued: 2 });
    b();
    (await c)();
    a();
    (await d)();
    expect(order).toEqual(["c", "d"]);
    expect(slots.load).toEqual({ running: 0, queued: 0 });
  });

  it("drops a waiting job whose signal aborts", async () => {
    const slots = new Slots(1);
    const held = await slots.acquire("a");
    const controller = new AbortController();
    const waiting = slots.acquire("b", controller.signal);
    controller.abort(new Error("cancelled"));
    await expect(waiting).rejects.toThrow("cancelled");
    expect(slots.position("b")).toBeUndefined();
    held();
    expect(slots.load).toEqual({ running: 0, queued: 0 });
  });

  it("ignores a second release", async () => {
    const slots = new Slots(1);
    const release = await slots.acquire("a");
    release();
    release();
    expect(slots.load.running).toBe(0);
  });
});

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

  it("knows every waiting job's place through random arrivals, cancellations and releases", async () => {
    let state = 7;
    const random = () => {
      state = (state * 1103515245 + 12345) % 2147483648;
      return state / 2147483648;
    };
    const slots = new Slots(2);
    const releases: (() => void)[] = [];
    const queue: { id: string; controller: AbortController }[] = [];
    let n = 0;
    for (let step = 0; step < 400; step++) {
      const roll = random();
      if (roll < 0.5) {
        const id = `j${n++}`;
        const controller = new AbortController();
        const entry = { id, controller };
        queue.push(entry);
        void slots.acquire(id, controller.signal).then(
          (release) => {
            queue.splice(queue.indexOf(entry), 1);
            releases.push(release);
          },
          () => undefined,
        );
      } else if (roll < 0.7 && queue.length > 0) {
        const entry = queue[Math.floor(random() * queue.length)] as (typeof queue)[number];
        queue.splice(queue.indexOf(entry), 1);
        entry.controller.abort(new Error("cancelled"));
      } else if (releases.length > 0) {
        releases.splice(Math.floor(random() * releases.length), 1)[0]?.();
      }
      await new Promise((resolve) => setImmediate(resolve));
      for (const [at, entry] of queue.entries()) expect(slots.position(entry.id)).toBe(at + 1);
    }
  });
});

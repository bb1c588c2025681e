import { describe, expect, it } from "vitest";
import { ChangeHub } from "../store/change-feed.ts";
import type { JobChange } from "../store/store.ts";
import { ChangeWatch } from "./change-watch.ts";

/** Changes of `ids` that do not say what changed. */
function changed(...ids: string[]): JobChange[] {
  return ids.map((id) => ({ id, what: "changed" }));
}

describe("ChangeWatch", () => {
  it("wakes on a change of a followed job, and gathers the changes of a burst into one round", async () => {
    const hub = new ChangeHub();
    const watch = new ChangeWatch(hub, (id) => id !== "other", { recheckMs: 60_000 });
    const round = watch.next();
    hub.emit(changed("a"));
    expect(await round).toEqual(new Set(["a"]));
    hub.emit(changed("b", "other"));
    hub.emit(changed("c"));
    expect(await watch.next()).toEqual(new Set(["b", "c"]));
    watch.close();
  });

  it("follows changes by what changed and whose job it is, when the reader says so", async () => {
    const hub = new ChangeHub();
    const watch = new ChangeWatch(hub, (_id, change) => change.what === "settled", { recheckMs: 60_000 });
    const round = watch.next();
    hub.emit([
      { id: "a", what: "created", principal: "" },
      { id: "b", what: "settled", principal: "" },
    ]);
    expect(await round).toEqual(new Set(["b"]));
    watch.close();
  });

  it("reads everything after a lost stretch of the feed, and after the recheck interval", async () => {
    const hub = new ChangeHub();
    const watch = new ChangeWatch(hub, () => true, { recheckMs: 60_000 });
    hub.emit("any");
    expect(await watch.next()).toBe("all");
    const quiet = new ChangeWatch(hub, () => true, { recheckMs: 20 });
    expect(await quiet.next()).toBe("all");
    watch.close();
    quiet.close();
  });

  it("starts with a round of everything for a reader that read before it watched", async () => {
    const watch = new ChangeWatch(new ChangeHub(), () => true, { recheckMs: 60_000, readAllFirst: true });
    expect(await watch.next()).toBe("all");
    watch.close();
    expect(await watch.next()).toBeUndefined();
  });

  it("polls at its own interval on a store without a feed", async () => {
    const watch = new ChangeWatch(undefined, () => true, { pollMs: 20, recheckMs: 60_000 });
    expect(await watch.next()).toBe("all");
    watch.close();
  });

  it("ends a waiting round when its signal aborts or the watch closes, and stops listening", async () => {
    const hub = new ChangeHub();
    const watch = new ChangeWatch(hub, () => true, { recheckMs: 60_000 });
    const stop = new AbortController();
    const round = watch.next(stop.signal);
    stop.abort();
    expect(await round).toBeUndefined();
    const closing = watch.next();
    watch.close();
    expect(await closing).toBeUndefined();
    expect(hub.listening).toBe(false);
  });
});

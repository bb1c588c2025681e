import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DatabaseSync } from "node:sqlite";
import { afterEach, describe, expect, it } from "vitest";
import {
  GroupSync,
  LONE_SYNC_PROBE_EVERY,
  LonePlacement,
  SYNC_CHANNEL,
  type SyncEvent,
} from "./group-sync.ts";
import { openDatabase } from "./store-file.ts";

const dirs: string[] = [];
const dbs: DatabaseSync[] = [];
const cleanups: (() => void)[] = [];

afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  for (const db of dbs.splice(0)) if (db.isOpen) db.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function openStore(): { path: string; commit: () => number } {
  const dir = mkdtempSync(join(tmpdir(), "async-tools-group-sync-"));
  dirs.push(dir);
  const path = join(dir, "store.db");
  const db = openDatabase(path, 0);
  dbs.push(db);
  db.exec("CREATE TABLE t (x)");
  let commits = 0;
  const insert = db.prepare("INSERT INTO t VALUES (?)");
  return {
    path,
    commit: () => {
      insert.run(commits);
      return ++commits;
    },
  };
}

/** The syncs published on {@link SYNC_CHANNEL} for the WAL of `path` from now on. */
function syncsOf(path: string): SyncEvent[] {
  const events: SyncEvent[] = [];
  const listener = (event: unknown) => {
    if ((event as SyncEvent).wal === `${path}-wal`) events.push(event as SyncEvent);
  };
  subscribe(SYNC_CHANNEL, listener);
  cleanups.push(() => unsubscribe(SYNC_CHANNEL, listener));
  return events;
}

describe("GroupSync", () => {
  it("shares one sync among every commit made while the previous sync ran, and runs waiters in order", async () => {
    const { path, commit } = openStore();
    const told: number[] = [];
    const ran: string[] = [];
    const sync = new GroupSync(path, 0, (n) => told.push(n));
    sync.after(commit(), () => ran.push(`1 after ${told.at(-1)}`));
    // The first sync is on its way: these three commits wait for the next one, all together.
    for (let i = 2; i <= 4; i++) {
      const n = commit();
      sync.after(n, () => ran.push(`${n} after ${told.at(-1)}`));
    }
    expect(ran).toEqual([]);
    await expect.poll(() => ran.length).toBe(4);
    expect(ran).toEqual(["1 after 1", "2 after 4", "3 after 4", "4 after 4"]);
    expect(told).toEqual([1, 4]);
    expect(sync.syncs).toBe(2);
    sync.close();
  });

  it("syncs a lone commit on the event loop, and runs its waiter only after that sync and its mark", () => {
    const { path, commit } = openStore();
    const events = syncsOf(path);
    const told: number[] = [];
    const sync = new GroupSync(path, 0, (n) => told.push(n));
    const ran: string[] = [];
    sync.after(
      commit(),
      (error) => ran.push(`${error === undefined ? "synced" : "error"} after ${told.at(-1)}`),
      true,
    );
    // No thread-pool trip: the waiter ran before after() returned, once the sync and the mark were done.
    expect(ran).toEqual(["synced after 1"]);
    expect(events).toEqual([{ wal: `${path}-wal`, commits: 1, onLoop: true }]);
    expect(sync.syncs).toBe(1);
    expect(sync.durableCommit).toBe(1);
    sync.close();
  });

  it("leaves a lone commit to the sync off the loop when one is in flight, sharing the next one", async () => {
    const { path, commit } = openStore();
    const events = syncsOf(path);
    const sync = new GroupSync(path, 0, () => {});
    const ran: number[] = [];
    sync.after(commit(), () => ran.push(1));
    const second = commit();
    sync.after(second, () => ran.push(second), true);
    const third = commit();
    sync.after(third, () => ran.push(third), true);
    expect(ran).toEqual([]);
    await expect.poll(() => ran.length).toBe(3);
    expect(ran).toEqual([1, 2, 3]);
    expect(events).toEqual([
      { wal: `${path}-wal`, commits: 1, onLoop: false },
      { wal: `${path}-wal`, commits: 2, onLoop: false },
    ]);
    sync.close();
  });

  it("hands the error of a lone commit's sync on the loop to its waiter instead of throwing it", () => {
    const sync = new GroupSync(join(tmpdir(), "async-tools-no-such-dir", "store.db"), 0, () => {});
    const errors: unknown[] = [];
    sync.after(1, (error) => errors.push(error), true);
    expect(errors.map((error) => (error as { code?: string }).code)).toEqual(["ENOENT"]);
    expect(sync.durableCommit).toBe(0);
  });

  it("runs at once what waits on a commit already durable", () => {
    const { path, commit } = openStore();
    commit();
    const sync = new GroupSync(path, 1, () => {});
    let ran = false;
    sync.after(1, () => {
      ran = true;
    });
    expect(ran).toBe(true);
    expect(sync.syncs).toBe(0);
  });

  it("syncs on this thread for the store's synchronous paths, covering what waited", () => {
    const { path, commit } = openStore();
    const sync = new GroupSync(path, 0, () => {});
    const ran: (number | string)[] = [];
    sync.after(commit(), (error) => ran.push(error === undefined ? 1 : "error"));
    sync.syncNow(commit());
    expect(ran).toEqual([1]);
    expect(sync.durableCommit).toBe(2);
    sync.close();
  });

  it("hands the error to every waiter when the WAL cannot be synced", async () => {
    const sync = new GroupSync(join(tmpdir(), "async-tools-no-such-dir", "store.db"), 0, () => {});
    const errors: unknown[] = [];
    sync.after(1, (error) => errors.push(error));
    sync.after(2, (error) => errors.push(error));
    await expect.poll(() => errors.length).toBe(2);
    expect(errors.every((error) => (error as { code?: string }).code === "ENOENT")).toBe(true);
    expect(() => sync.syncNow(3)).toThrow(/ENOENT/);
  });
});

describe("LonePlacement", () => {
  /** The places of the next `n` lone syncs, each noted as taking `ms[place]`. */
  function places(placement: LonePlacement, n: number, ms: { loop: number; pool: number }): string[] {
    return Array.from({ length: n }, () => {
      const place = placement.next();
      placement.took(place, ms[place]);
      return place;
    });
  }

  it("tries the event loop three times, then the thread pool three times", () => {
    expect(places(new LonePlacement(), 6, { loop: 1, pool: 1 })).toEqual([
      "loop",
      "loop",
      "loop",
      "pool",
      "pool",
      "pool",
    ]);
  });

  it("syncs lone commits where they took less time, trying the other place now and then", () => {
    const placement = new LonePlacement();
    places(placement, 6, { loop: 0.3, pool: 0.5 });
    const next = places(placement, 4 * LONE_SYNC_PROBE_EVERY, { loop: 0.3, pool: 0.5 });
    expect(next.filter((place) => place === "pool")).toHaveLength(4);
  });

  it("moves lone syncs to the thread pool once the loop turns slower, and back", () => {
    const placement = new LonePlacement();
    places(placement, 6, { loop: 0.3, pool: 0.5 });
    // A busy machine: a sync on the loop now takes longer than one through the pool.
    const busy = places(placement, 20 * LONE_SYNC_PROBE_EVERY, { loop: 0.6, pool: 0.4 });
    expect(busy.slice(-4 * LONE_SYNC_PROBE_EVERY).filter((place) => place === "loop")).toHaveLength(4);
    const idle = places(placement, 20 * LONE_SYNC_PROBE_EVERY, { loop: 0.3, pool: 0.5 });
    expect(idle.slice(-4 * LONE_SYNC_PROBE_EVERY).filter((place) => place === "pool")).toHaveLength(4);
  });
});

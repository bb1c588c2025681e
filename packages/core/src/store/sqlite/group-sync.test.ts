import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DatabaseSync } from "node:sqlite";
import { afterEach, describe, expect, it } from "vitest";
import { GroupSync } from "./group-sync.ts";
import { openDatabase } from "./store-file.ts";

const dirs: string[] = [];
const dbs: DatabaseSync[] = [];

afterEach(() => {
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

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, describe, expect, it } from "vitest";
import { JobMeta } from "./job-meta.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("the job index by principal", () => {
  it("lists one principal's jobs (and rows that predate principals) without reading the others'", async () => {
    const dir = mkdtempSync(join(tmpdir(), "async-tools-meta-"));
    dirs.push(dir);
    const path = join(dir, "jobs.db");
    // A file written before the index held principals.
    const old = new DatabaseSync(path);
    old.exec(`
      CREATE TABLE async_tools_jobs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, tool TEXT NOT NULL,
        created_at INTEGER NOT NULL, progress REAL, message TEXT, progress_at INTEGER
      );
      CREATE INDEX async_tools_jobs_tool ON async_tools_jobs (tool, seq);
      INSERT INTO async_tools_jobs (id, tool, created_at) VALUES ('old-1', 't', 1), ('old-2', 't', 2);
    `);
    old.close();

    const db = new DatabaseSync(path);
    const meta = new JobMeta(db, path);
    meta.recordSoon("a-1", "t", 3, "alice");
    meta.recordSoon("b-1", "t", 4, "bob");
    meta.recordSoon("n-1", "u", 5, "");
    await meta.flush();
    // Progress may land before the row's record: the record still names the principal.
    meta.progress("a-2", "t", 0.5, "half", 6);
    meta.recordSoon("a-2", "t", 6, "alice");
    await meta.flush();
    const ids = async (options: { principal?: string; tool?: string }) =>
      (await meta.list({ limit: 100, ...options })).rows.map((row) => row.id);
    expect(await ids({})).toEqual(["old-1", "old-2", "a-1", "b-1", "n-1", "a-2"]);
    expect(await ids({ principal: "alice" })).toEqual(["old-1", "old-2", "a-1", "a-2"]);
    expect(await ids({ principal: "bob", tool: "t" })).toEqual(["old-1", "old-2", "b-1"]);
    expect(await ids({ principal: "" })).toEqual(["old-1", "old-2", "n-1"]);
    expect((await meta.get("a-2"))?.progress).toMatchObject({ fraction: 0.5, message: "half" });
    const plan = db
      .prepare(
        "EXPLAIN QUERY PLAN SELECT * FROM async_tools_jobs WHERE (principal = ? OR principal IS NULL) AND seq > ? ORDER BY seq LIMIT ?",
      )
      .all("alice", 0, 10) as { detail: string }[];
    expect(plan.map((step) => step.detail).join("; ")).toContain("async_tools_jobs_principal");
    db.close();

    // Opening the migrated file again changes nothing.
    const again = new DatabaseSync(path);
    const reopened = new JobMeta(again, path);
    expect((await reopened.list({ limit: 100, principal: "alice" })).rows.map((row) => row.id)).toEqual([
      "old-1",
      "old-2",
      "a-1",
      "a-2",
    ]);
    again.close();
  });
});

describe("the job index from the newest back", () => {
  it("pages newest first, from a start time, and with the other filters", async () => {
    const meta = new JobMeta();
    for (let n = 1; n <= 5; n += 1) meta.recordSoon(`j-${n}`, n % 2 === 0 ? "even" : "odd", n * 10, "alice");
    await meta.flush();
    const first = await meta.list({ order: "newest", limit: 2 });
    expect(first.rows.map((row) => row.id)).toEqual(["j-5", "j-4"]);
    const second = await meta.list({
      order: "newest",
      limit: 2,
      ...(first.next ? { cursor: first.next } : {}),
    });
    expect(second.rows.map((row) => row.id)).toEqual(["j-3", "j-2"]);
    const since = await meta.list({ order: "newest", limit: 10, since: 30 });
    expect(since.rows.map((row) => row.id)).toEqual(["j-5", "j-4", "j-3"]);
    expect(since.next).toBeUndefined();
    const odd = await meta.list({ order: "newest", limit: 10, tool: "odd", principal: "alice", since: 20 });
    expect(odd.rows.map((row) => row.id)).toEqual(["j-5", "j-3"]);
    expect((await meta.list({ limit: 10, since: 40 })).rows.map((row) => row.id)).toEqual(["j-4", "j-5"]);
    meta.close();
  });
});

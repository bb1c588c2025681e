import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DatabaseSync } from "node:sqlite";
import { afterEach, describe, expect, it } from "vitest";
import { checkpoint, openDatabase, prepare, SCHEMA_VERSION } from "./store-file.ts";

const dirs: string[] = [];
const dbs: DatabaseSync[] = [];

afterEach(() => {
  for (const db of dbs.splice(0)) if (db.isOpen) db.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("checkpoint", () => {
  it("leaves the WAL its length, so the commits after it overwrite the file instead of growing it", () => {
    const dir = mkdtempSync(join(tmpdir(), "async-tools-store-file-"));
    dirs.push(dir);
    const path = join(dir, "store.db");
    const db = openDatabase(path, 0);
    dbs.push(db);
    db.exec("CREATE TABLE t (x TEXT)");
    const insert = db.prepare("INSERT INTO t VALUES (?)");
    for (let i = 0; i < 50; i++) insert.run("x".repeat(500));
    const wal = () => statSync(`${path}-wal`).size;
    const before = wal();
    checkpoint(db);
    expect(wal()).toBe(before);
    for (let i = 0; i < 10; i++) insert.run("y".repeat(500));
    expect(wal()).toBe(before);
    // Everything the WAL held before the checkpoint is in the file itself.
    expect((db.prepare("SELECT count(*) AS n FROM t").get() as { n: number }).n).toBe(60);
  });
});

/** A store file in a fresh temp dir, open. */
function storeFile(): { path: string; db: DatabaseSync } {
  const dir = mkdtempSync(join(tmpdir(), "async-tools-store-file-"));
  dirs.push(dir);
  const path = join(dir, "store.db");
  const db = openDatabase(path, 0);
  dbs.push(db);
  return { path, db };
}

/** Writes a promise row as persistence does: `id` in `branch` of lineage `origin`, created in `seq` order. */
function put(db: DatabaseSync, id: string, origin: string, branch: string | null, seq: number): void {
  prepare(db).putPromise.run(id, seq, "resolved", origin, branch, seq, seq, JSON.stringify({ id }));
}

describe("branches and lineages", () => {
  it("reads a branch and a lineage whole, in creation order, whether or not their members' ids start with the job's", () => {
    const { db } = storeFile();
    const rows: [string, string, string | null][] = [
      ["r", "r", "r"],
      ["r:0", "r", "r"],
      ["x", "r", "r"],
      ["r:", "r", "r"],
      ["r:2", "r", "r:2"],
      ["r:2:0", "r", "r:2"],
      ["y", "r", "r:2"],
      ["r:1", "r", "r"],
      ["z", "r", null],
      // Neighbours in the id index that belong to other jobs.
      ["rr:0", "rr", "rr"],
      ["r;", "r;", "r;"],
      ["q:0", "r", "q"],
    ];
    for (const [seq, [id, origin, branch]] of rows.entries()) put(db, id, origin, branch, seq + 1);
    const sql = prepare(db);
    const ids = (found: unknown[]) => found.map((row) => (row as { id: string }).id);
    expect(ids(sql.branch.all("r"))).toEqual(["r", "r:0", "x", "r:", "r:1"]);
    expect(ids(sql.branch.all("r:2"))).toEqual(["r:2", "r:2:0", "y"]);
    expect(ids(sql.lineage.all("r")).sort()).toEqual(
      ["r", "r:0", "x", "r:", "r:2", "r:2:0", "y", "r:1", "z", "q:0"].sort(),
    );
  });
});

describe("the statements' plans", () => {
  it("reads branches, lineages and the work in flight through indexes, never by scanning the promises", () => {
    const { db } = storeFile();
    const sql = prepare(db);
    const reads = [
      sql.branch,
      sql.lineage,
      sql.deleteLineagePromises,
      sql.pendingPromises,
      sql.getPromiseAndTask,
    ];
    for (const statement of reads) {
      const args = statement.sourceSQL.includes("?") ? ["r"] : [];
      const plan = db.prepare(`EXPLAIN QUERY PLAN ${statement.sourceSQL}`).all(...args) as {
        detail: string;
      }[];
      const details = plan.map((step) => step.detail);
      expect(details.filter((detail) => /^SCAN promises$/.test(detail))).toEqual([]);
      expect(details.some((detail) => /promises USING/.test(detail))).toBe(true);
    }
  });
});

describe("a store file of schema version 3", () => {
  it("upgrades in place to indexes that leave out the steps whose ids start with their job's", () => {
    const { path, db } = storeFile();
    put(db, "job", "job", "job", 1);
    put(db, "job:0", "job", "job", 2);
    put(db, "other", "job", "job", 3);
    db.exec(`
      DROP INDEX promises_branch;
      DROP INDEX promises_origin;
      CREATE INDEX promises_branch ON promises (branch, seq) WHERE branch <> id;
      CREATE INDEX promises_origin ON promises (origin) WHERE origin <> id;
      UPDATE meta SET value = '3' WHERE key = 'schema_version';
    `);
    db.close();

    const upgraded = openDatabase(path, 0);
    dbs.push(upgraded);
    expect(upgraded.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get()).toEqual({
      value: SCHEMA_VERSION,
    });
    const sql = prepare(upgraded);
    expect(sql.branch.all("job").map((row) => (row as { id: string }).id)).toEqual(["job", "job:0", "other"]);
    const definition = upgraded
      .prepare("SELECT sql FROM sqlite_master WHERE name = 'promises_origin'")
      .get() as { sql: string };
    expect(definition.sql).toMatch(/substr\(id/);
  });
});

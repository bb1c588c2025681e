import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DatabaseSync } from "node:sqlite";
import { afterEach, describe, expect, it } from "vitest";
import { checkpoint, openDatabase } from "./store-file.ts";

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

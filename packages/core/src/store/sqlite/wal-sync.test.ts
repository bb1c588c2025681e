import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DatabaseSync } from "node:sqlite";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { openDatabase } from "./store-file.ts";
import { WAL_SYNC_EVERY_ROWS, WalSync } from "./wal-sync.ts";

const dirs: string[] = [];
const dbs: DatabaseSync[] = [];

afterEach(() => {
  for (const db of dbs.splice(0)) if (db.isOpen) db.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function openStore(): { path: string; db: DatabaseSync } {
  const dir = mkdtempSync(join(tmpdir(), "async-tools-wal-sync-"));
  dirs.push(dir);
  const path = join(dir, "store.db");
  const db = openDatabase(path, 0);
  dbs.push(db);
  return { path, db };
}

/** What another process gets when it opens `path` as a store: "opened" or the error's code. */
function openFromChild(path: string): Promise<string> {
  const module = pathToFileURL(join(import.meta.dirname, "store-file.ts")).href;
  const script = `
    const { openDatabase } = await import(${JSON.stringify(module)});
    try { openDatabase(process.env.STORE_PATH, 0).close(); console.log("opened"); }
    catch (error) { console.log(error.code); }
  `;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ["--no-warnings", "--input-type=module", "-e", script],
      { env: { ...process.env, STORE_PATH: path } },
      (error, stdout) => (error ? reject(error) : resolve(stdout.trim())),
    );
  });
}

describe("WalSync", () => {
  it("syncs once enough rows were committed, one sync at a time", async () => {
    const { path, db } = openStore();
    db.exec("CREATE TABLE t (x); INSERT INTO t VALUES (1)");
    const sync = new WalSync(path);
    expect(sync.committed(WAL_SYNC_EVERY_ROWS - 1)).toBeUndefined();
    const first = sync.committed(1);
    expect(first).toBeInstanceOf(Promise);
    expect(sync.committed(WAL_SYNC_EVERY_ROWS)).toBeUndefined();
    await first;
    await expect(sync.committed(WAL_SYNC_EVERY_ROWS)).resolves.toBeUndefined();
  });

  it("leaves the store locked against other processes after syncing its WAL", async () => {
    const { path, db } = openStore();
    db.exec("CREATE TABLE t (x); INSERT INTO t VALUES (1)");
    await new WalSync(path).committed(WAL_SYNC_EVERY_ROWS);
    expect(await openFromChild(path)).toBe("STORE_LOCKED");
    db.close();
    expect(await openFromChild(path)).toBe("opened");
  });

  it("ignores a store whose WAL is gone", async () => {
    const sync = new WalSync(join(tmpdir(), "async-tools-no-such-dir", "store.db"));
    await expect(sync.committed(WAL_SYNC_EVERY_ROWS)).resolves.toBeUndefined();
  });
});

/**
 * The vendored schema files are what their records say: a file changed without its record (an edited
 * resonate.sql, a released migration rewritten) fails here before any database sees it.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MIGRATIONS, migrationSql } from "./schema.ts";

const folder = join(import.meta.dirname, "sql");

describe("the Postgres schema files", () => {
  it.each(MIGRATIONS.map((m) => [m.id, m] as const))("%s matches its recorded sha256", (_id, migration) => {
    const sha256 = createHash("sha256")
      .update(readFileSync(join(folder, migration.file)))
      .digest("hex");
    expect(sha256).toBe(migration.sha256);
    expect(migrationSql(migration).length).toBeGreaterThan(0);
  });

  it("keeps resonate.sql first and the ids in order, each once", () => {
    expect(MIGRATIONS[0]?.file).toBe("resonate.sql");
    const ids = MIGRATIONS.map((m) => m.id);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("ships resonate-pg's licence beside the vendored file", () => {
    expect(readFileSync(join(folder, "resonate-pg.LICENSE"), "utf8")).toMatch(
      /Apache License\s+Version 2\.0/,
    );
  });
});

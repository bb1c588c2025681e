/**
 * What a commit writes for due times (timeouts): each row once, with what the commit left of it, and nothing
 * for the removal of a due time that was never set (the SDK's server removes one on every settle).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StatementSync } from "node:sqlite";
import { afterEach, expect, it, vi } from "vitest";
import { create, settle } from "../../../test/sdk-requests.ts";
import { SqliteNetwork } from "./sqlite-network.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function openStore(): Promise<{ network: SqliteNetwork; path: string }> {
  const dir = mkdtempSync(join(tmpdir(), "async-tools-persistence-"));
  const path = join(dir, "store.db");
  const network = await SqliteNetwork.open({ path, tickMs: 0 });
  cleanups.push(async () => {
    await network.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return { network, path };
}

/** The SQL of every statement run while `fn` runs. */
async function statementsOf(fn: () => Promise<unknown>): Promise<string[]> {
  const run = vi.spyOn(StatementSync.prototype, "run");
  try {
    await fn();
    return run.mock.contexts.map((statement) => (statement as StatementSync).sourceSQL);
  } finally {
    run.mockRestore();
  }
}

function timeoutWrites(sql: string[]): string[] {
  return sql.filter((s) => /\btimeouts\b/.test(s)).map((s) => s.trim().split(" ")[0] as string);
}

it("writes no timeout row when a promise without a due time is settled", async () => {
  const { network } = await openStore();
  const now = Date.now();
  await network.sendAt(now, create("plain", now));
  expect(timeoutWrites(await statementsOf(() => network.sendAt(now, settle("plain"))))).toEqual([]);
});

it("writes one delete for a due time set and removed in the same commit, and the row is gone after a restart", async () => {
  const { network, path } = await openStore();
  const now = Date.now();
  const written = await statementsOf(() =>
    Promise.all([
      network.sendAt(now, create("job", now, { "resonate:target": "poll://any@default" })),
      network.sendAt(now, settle("job")),
    ]),
  );
  // The promise's and the task's due times: each set, then removed on the settle.
  expect(timeoutWrites(written)).toEqual(["DELETE", "DELETE"]);
  await network.stop();
  const reopened = await SqliteNetwork.open({ path, tickMs: 0 });
  cleanups.push(() => reopened.stop());
  expect(reopened.residentCounts()).toEqual({ promises: 0, tasks: 0 });
});

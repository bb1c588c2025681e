/**
 * Retention: lineages whose root settled long ago are deleted from the store file in bounded batches, each
 * batch in one transaction. Lineages with a member in flight are kept.
 */
import type { DatabaseSync } from "node:sqlite";
import type { ProtocolServer } from "./sdk-internals.ts";
import { rollback, type Statements } from "./store-file.ts";

/** How many promises one sweep reads at a time. */
const GC_BATCH = 256;

/**
 * Deletes the lineages whose root promise settled before `cutoff` (epoch ms): every promise of that origin,
 * with its task and timeouts. Keeps a lineage while any member is pending or resident in `server`. Returns
 * how many lineages were deleted.
 *
 * Walks the promises in creation order and stops at the first one created after the cutoff, so a sweep
 * reads what it deletes plus the old lineages it keeps, and no index of settled roots is kept up to date
 * on every commit. A clock set back can only delay a deletion, never bring one forward: each root is
 * checked against the cutoff itself.
 */
export function deleteLineagesBefore(
  db: DatabaseSync,
  sql: Statements,
  server: ProtocolServer,
  cutoff: number,
): number {
  let cursor = 0;
  let deleted = 0;
  for (let more = true; more; ) {
    const rows = sql.promisesAfter.all(cursor, GC_BATCH) as {
      at: number;
      id: string;
      state: string;
      origin: string;
      created_at: number;
      settled_at: number | null;
    }[];
    more = rows.length === GC_BATCH;
    const roots: string[] = [];
    for (const row of rows) {
      if (row.created_at >= cutoff) {
        more = false;
        break;
      }
      cursor = row.at;
      const settled = row.state !== "pending" && row.settled_at !== null && row.settled_at < cutoff;
      if (row.id === row.origin && settled) roots.push(row.id);
    }
    if (roots.length === 0) continue;
    db.exec("BEGIN");
    try {
      for (const root of roots) {
        const members = sql.lineage.all(root) as { id: string; state: string }[];
        const busy = members.some(
          (m) => m.state === "pending" || server.promises.has(m.id) || server.tasks.has(m.id),
        );
        if (busy) continue;
        sql.deleteLineageTimeouts.run(root);
        sql.deleteLineageTasks.run(root);
        sql.deleteLineagePromises.run(root);
        deleted++;
      }
      db.exec("COMMIT");
    } catch (error) {
      rollback(db);
      throw error;
    }
  }
  return deleted;
}

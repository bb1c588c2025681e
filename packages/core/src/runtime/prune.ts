/**
 * Retention on demand: removes finished jobs older than a cutoff now, instead of waiting for the store's
 * periodic sweep. The job index keeps their rows (a probe says `expired`, not `not_found`); their step
 * records go with them.
 */
import { AsyncToolsError } from "../errors.ts";
import { isUnfinished, type JobSnapshot } from "./job.ts";
import { type AsyncTools, internalsOf } from "./runtime.ts";

/** What {@link pruneJobs} removed. */
export interface PruneResult {
  /** IDs of the jobs removed. */
  removed: string[];
  /** Finished jobs that finished before this time (ISO 8601) were removed. */
  before: string;
}

/**
 * Removes the jobs of `runtime` that finished more than `olderThanMs` ago, with their steps. Unfinished
 * jobs are never touched. Only the owner of an embedded store (SQLite file or memory) can prune: a process
 * that joined a running server's store leaves it to that server, and a Resonate Server or Postgres applies
 * its own retention.
 */
export async function pruneJobs(runtime: AsyncTools, olderThanMs: number): Promise<PruneResult> {
  const { store, engine } = internalsOf(runtime);
  if (store.gc === undefined) {
    throw new AsyncToolsError(
      "INVALID_STORE",
      `Pruning works on the embedded store; ${runtime.store.description} applies its own retention.`,
    );
  }
  if (store.role !== "owner") {
    throw new AsyncToolsError(
      "STORE_LOCKED",
      `${runtime.store.description} is owned by a running server, which prunes it on its own schedule; ` +
        "stop that server to prune now.",
    );
  }
  const now = Date.now();
  const cutoff = now - olderThanMs;
  const candidates: JobSnapshot[] = [];
  let cursor: number | undefined;
  do {
    const page = await engine.list({
      limit: 500,
      everyone: true,
      ...(cursor === undefined ? {} : { cursor }),
    });
    for (const job of page.jobs) {
      const done = job.completedAt === undefined ? undefined : Date.parse(job.completedAt);
      if (!isUnfinished(job.status) && done !== undefined && done < cutoff) candidates.push(job);
    }
    cursor = page.next;
  } while (cursor !== undefined);
  store.gc(now, olderThanMs);
  const removed: string[] = [];
  for (const job of candidates) {
    const after = await engine.snapshot(job.jobId, false, { everyone: true });
    if (after.status === "expired") {
      await store.steps.forget(job.jobId);
      removed.push(job.jobId);
    }
  }
  return { removed, before: new Date(cutoff).toISOString() };
}

/**
 * A replica's drain on a real PostgreSQL (migration 0011): it runs on every NOTIFY and every tick, so its cost
 * must not grow with the store. resonate.sql's timer pass read every promise ever kept (its filter called a
 * function on the whole row, which no index serves); the pass now filters on the columns, which an index
 * serves, and the drain runs it only when the indexes say a timer is due, so due timers still fire. Every
 * wake-up of a job is a NOTIFY, never the fallback tick. Skipped, in one line, where PostgreSQL cannot be
 * started.
 */
import { type PostgresCluster, postgresUnavailable, startPostgres } from "@async-tools/test-helpers/postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAsyncTools } from "../src/index.ts";
import { postgresStoreInit, threeStepsTool } from "./helpers.ts";

const unavailable = postgresUnavailable();
if (unavailable !== undefined) console.warn(`postgres drain tests skipped: ${unavailable}`);

/** Finished promises in the store: retention keeps them (a day by default), so a busy store holds many. */
const KEPT = 20_000;
/** Jobs at once in the wake-up test, as the bench's 32 submitters. */
const JOBS = 32;
/** A fallback tick no job of the wake-up test could wait for and still finish within its budget. */
const TICK_MS = 10 * 60_000;
/** The wake-up test's budget for all its jobs, generous for a loaded machine. */
const AWAIT_MS = 60_000;
const DRAIN = "SELECT count(*) FROM async_tools.drain('poll://any@drained', 'poll://uni@drained/a', 100)";

describe.skipIf(unavailable !== undefined)("a Postgres drain", () => {
  let cluster: PostgresCluster;
  beforeAll(async () => {
    cluster = await startPostgres();
    cluster.createDatabase("drains");
    await postgresStoreInit(cluster.url("drains"));
    cluster.psql(
      `INSERT INTO resonate.promises (id, state, tags, timeout_at, created_at, settled_at)
       SELECT 'kept-' || g, 'resolved', '{"resonate:target": "poll://any@drained"}', 0, 0, 0
         FROM generate_series(1, ${KEPT}) AS g;
       ANALYZE resonate.promises`,
      "drains",
    );
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  /** Rows of resonate.promises read whole-table by `sql`, counted in its own transaction. */
  const promisesReadWhole = (sql: string) =>
    Number(
      cluster
        .psql(
          `${sql}; SELECT seq_tup_read FROM pg_stat_xact_user_tables WHERE schemaname = 'resonate' AND relname = 'promises'`,
          "drains",
        )
        .trim()
        .split("\n")
        .at(-1),
    );

  it("does not read every promise kept when no timer is due", () => {
    expect(promisesReadWhole(DRAIN)).toBeLessThan(KEPT);
  });

  it("fires a timer that is due, still without reading every promise kept", () => {
    cluster.psql(
      `INSERT INTO resonate.promises (id, tags, timeout_at, created_at)
       VALUES ('due', '{"resonate:timer": "true"}', 1, 0)`,
      "drains",
    );
    expect(promisesReadWhole(DRAIN)).toBeLessThan(KEPT);
    expect(cluster.psql("SELECT state FROM resonate.promises WHERE id = 'due'", "drains").trim()).toBe(
      "resolved",
    );
  });

  it("wakes every job by NOTIFY: jobs finish with a fallback tick of ten minutes", async () => {
    cluster.createDatabase("wakes");
    await postgresStoreInit(cluster.url("wakes"));
    const threeSteps = threeStepsTool(JOBS);
    await using runtime = await createAsyncTools({
      store: cluster.url("wakes"),
      tools: [threeSteps],
      postgres: { tickMs: TICK_MS },
    });
    const started = await Promise.all(
      Array.from({ length: JOBS }, (_, n) => runtime.start(threeSteps, { n })),
    );
    const done = await runtime.wait(
      started.map((job) => job.jobId),
      { timeoutMs: AWAIT_MS },
    );
    expect(done.map((job) => job.status)).toEqual(started.map(() => "completed"));
  });
});

/**
 * Three-step job throughput on Postgres against DBOS Transact, the durable-execution library a TypeScript author
 * would pick for Postgres: our runtime on a `postgres://` store (programmatic API, no MCP) against a DBOS
 * workflow of the same three steps, each checkpointed, both on one throwaway cluster of Debian's PostgreSQL
 * (two databases), with 1 and 32 submitters each looping submit then wait. Commits and syncs per job come from
 * `pg_stat_database` and `pg_stat_wal`. Skipped, saying why, where PostgreSQL cannot be started.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type AsyncTools, createAsyncTools } from "@async-tools/core";
import { type PostgresCluster, postgresUnavailable, startPostgres } from "@async-tools/test-helpers/postgres";
import { storeInit } from "../lib/postgres.ts";
import { rate, versus } from "../lib/rates.ts";
import { fresh, type RunOptions, type ScenarioResult, skippedScenario } from "../lib/scenario.ts";
import { formatTable, spread } from "../lib/stats.ts";
import { threeStepTool } from "../lib/three-steps.ts";

const threeSteps = threeStepTool("three_step_pg");

/** Transactions committed and WAL syncs of `database` so far. */
function counters(cluster: PostgresCluster, database: string): { commits: number; syncs: number } {
  const [commits, syncs] = cluster
    .psql(
      `SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = '${database}'), (SELECT wal_sync FROM pg_stat_wal)`,
    )
    .trim()
    .split("|")
    .map(Number);
  return { commits: commits ?? Number.NaN, syncs: syncs ?? Number.NaN };
}

/** Per-job commits and syncs of `submit` run `jobs` times alone on the cluster. */
async function costPerJob(
  cluster: PostgresCluster,
  database: string,
  jobs: number,
  submit: () => Promise<void>,
): Promise<{ commits: number; syncs: number }> {
  // Statistics are flushed by each backend at the end of a transaction, at most every second or so.
  const settle = () => new Promise((resolve) => setTimeout(resolve, 1_500));
  await settle();
  const before = counters(cluster, database);
  for (let i = 0; i < jobs; i++) await submit();
  await settle();
  const after = counters(cluster, database);
  const round = (n: number) => Math.round(n * 10) / 10;
  return {
    commits: round((after.commits - before.commits) / jobs),
    syncs: round((after.syncs - before.syncs) / jobs),
  };
}

/** Measures three-step jobs per second on Postgres, ours against DBOS Transact, with 1 and 32 submitters. */
export async function dbos(options: RunOptions): Promise<ScenarioResult> {
  const name = "dbos";
  const why = postgresUnavailable();
  if (why !== undefined) {
    return skippedScenario(name, "Three-step jobs vs DBOS on Postgres", why, [
      "3-step jobs/s >= DBOS on Postgres (1 and 32 submitters)",
    ]);
  }
  const rounds = options.quick ? 3 : 5;
  const windowMs = options.quick ? 1_500 : 3_000;
  const cluster = await startPostgres();
  const { DBOS } = await import("@dbos-inc/dbos-sdk");
  let tools: AsyncTools | undefined;
  let launched = false;
  try {
    cluster.createDatabase("ours");
    cluster.createDatabase("theirs");
    await storeInit(cluster.url("ours"));
    tools = await createAsyncTools({ name: "bench-dbos", store: cluster.url("ours"), tools: [threeSteps] });
    const runtime = tools;
    const workflow = DBOS.registerWorkflow(
      async (n: number) => {
        let total = 0;
        for (const step of [1, 2, 3])
          total += await DBOS.runStep(async () => n * step, { name: `step${step}` });
        return { total };
      },
      { name: "three_step_pg" },
    );
    DBOS.setConfig({ name: "bench-dbos", systemDatabaseUrl: cluster.url("theirs"), logLevel: "error" });
    await DBOS.launch();
    launched = true;

    const ours = async () => {
      const started = await runtime.start(threeSteps, { n: fresh() });
      const [job] = await runtime.wait([started.jobId], { timeoutMs: 30_000 });
      if (job?.status !== "completed") throw new Error(`job ${started.jobId} ended ${job?.status}`);
    };
    const theirs = async () => {
      const handle = await DBOS.startWorkflow(workflow)(fresh());
      await handle.getResult();
    };
    const startMs = async (submit: () => Promise<unknown>) => {
      const samples: number[] = [];
      for (let i = 0; i < (options.quick ? 30 : 100); i++) {
        const began = performance.now();
        await submit();
        samples.push(performance.now() - began);
      }
      return spread(samples).median;
    };
    await rate(1, 300, ours);
    await rate(1, 300, theirs);
    const oursStart = await startMs(() => runtime.start(threeSteps, { n: fresh() }));
    const theirStart = await startMs(() => DBOS.startWorkflow(workflow)(fresh()));
    const oursCost = await costPerJob(cluster, "ours", 50, ours);
    const theirCost = await costPerJob(cluster, "theirs", 50, theirs);

    const { rows, figures, checks } = await versus(
      "dbos",
      "DBOS on Postgres",
      { rounds, windowMs },
      ours,
      theirs,
    );
    checks.push({
      name: "a start within 2x of DBOS's on Postgres",
      ok: oursStart <= 2 * theirStart,
      detail: `${oursStart.toFixed(2)} ms vs ${theirStart.toFixed(2)} ms (${(oursStart / theirStart).toFixed(2)}x)`,
    });
    const table = formatTable(
      `Three-step jobs vs DBOS Transact ${dbosVersion()} on one PostgreSQL (${cluster.version}), ${rounds} interleaved rounds of ${windowMs / 1000} s; median (min-max)`,
      ["submitters", "ours jobs/s", "DBOS jobs/s", "ours/DBOS"],
      rows,
    );
    const costs = `Per job, one submitter: ours ${oursCost.commits} commits and ${oursCost.syncs} WAL syncs; DBOS ${theirCost.commits} commits and ${theirCost.syncs} WAL syncs. Start: ours ${oursStart.toFixed(2)} ms, DBOS ${theirStart.toFixed(2)} ms.`;
    return {
      name,
      table: `${table}\n${costs}`,
      figures: {
        rounds,
        window_ms: windowMs,
        rows: figures,
        start_ms: { ours: oursStart, dbos: theirStart },
        per_job: { ours: oursCost, dbos: theirCost },
      },
      checks,
    };
  } finally {
    await tools?.close();
    if (launched) await DBOS.shutdown();
    await cluster.stop();
  }
}

function dbosVersion(): string {
  try {
    const manifest = fileURLToPath(import.meta.resolve("@dbos-inc/dbos-sdk/package.json"));
    return (JSON.parse(readFileSync(manifest, "utf8")) as { version: string }).version;
  } catch {
    return "5";
  }
}

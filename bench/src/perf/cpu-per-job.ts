/**
 * CPU per completed three-step job, alone, for profiling: the runtime on the SQLite store (programmatic API,
 * as in the BullMQ comparison) with `submitters` each looping start then wait, after a warm-up; prints this
 * process's CPU time per job (user and system) and jobs per second as one JSON line. With a fifth argument it
 * also writes a CPU profile of the measured window alone (no start-up, no warm-up) to that file. On SQLite it
 * also counts, per job, the statements and commits run and this thread's CPU inside SQLite: unlike the CPU
 * per job, these barely move with the machine's load. On Postgres
 * (`BENCH_STORE=postgres`), `BENCH_WAITS=1` also prints where the server's backends spent the window
 * (`pg_stat_activity` sampled: state, wait event, function) with commits, WAL syncs, the server's CPU and each SQL
 * function's time per job; `BENCH_KEPT=n` starts from a store holding n finished promises.
 *
 * ```sh
 * cd bench && ASYNC_TOOLS_LOG=warn node --conditions=@async-tools/source src/perf/cpu-per-job.ts 32 10 normal /tmp/32.cpuprofile
 * ```
 */
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { createRequire } from "node:module";
import { loadavg } from "node:os";
import { join } from "node:path";
import { createAsyncTools } from "@async-tools/core";
import { startPostgres } from "@async-tools/test-helpers/postgres";
import { tempDir } from "@async-tools/test-helpers/temp";
import { SAMPLER_NAME, sampleWaits } from "../lib/pg-waits.ts";
import { storeInit } from "../lib/postgres.ts";
import { window } from "../lib/rates.ts";
import { fresh } from "../lib/scenario.ts";
import { countSqlite } from "../lib/sqlite-counts.ts";
import { threeStepTool } from "../lib/three-steps.ts";

const threeSteps = threeStepTool("three_step_cpu");
const submitters = Number(process.argv[2] ?? 32);
const seconds = Number(process.argv[3] ?? 5);
const durability = process.argv[4] === "full" ? "full" : "normal";
const profile = process.argv[5];

const onPostgres = process.env.BENCH_STORE === "postgres";
using dir = tempDir("bench-cpu");
const cluster = onPostgres ? await startPostgres() : undefined;
let store = `sqlite:${join(dir.path, "jobs.db")}`;
if (cluster !== undefined) {
  cluster.createDatabase("cpu");
  store = cluster.url("cpu");
  await storeInit(store);
  // Time per SQL function (pg_stat_user_functions) for the breakdown of where the server spends a job.
  if (process.env.BENCH_WAITS) cluster.psql("ALTER DATABASE cpu SET track_functions = 'all'");
  // BENCH_KEPT=n: the store holds n finished promises at the start, as one that keeps a day of jobs does.
  const kept = Number(process.env.BENCH_KEPT ?? 0);
  if (kept > 0)
    cluster.psql(
      `INSERT INTO resonate.promises (id, state, tags, timeout_at, created_at, settled_at)
       SELECT 'kept-' || g, 'resolved', '{"resonate:target": "poll://any@kept"}', now, now, now
         FROM generate_series(1, ${kept}) AS g, (SELECT (extract(epoch FROM now()) * 1000)::bigint AS now) AS t;
       ANALYZE resonate.promises`,
      "cpu",
    );
}
/** Queries sent and notices heard by every `pg` client of this process (Postgres only), to count per job. */
const counts = { queries: 0, notices: 0 };
const labels = new Map<string, number>();
if (onPostgres) {
  const core = createRequire(import.meta.resolve("@async-tools/core/package.json"));
  const proto = (core("pg") as { Client: { prototype: Record<string, (...args: unknown[]) => unknown> } })
    .Client.prototype;
  const query = proto.query as (...args: unknown[]) => unknown;
  const emit = proto.emit as (...args: unknown[]) => unknown;
  proto.query = function (
    this: { connectionParameters?: { application_name?: string } },
    ...args: unknown[]
  ) {
    if (this.connectionParameters?.application_name === SAMPLER_NAME) return query.apply(this, args);
    counts.queries += 1;
    if (process.env.BENCH_LABELS) {
      const first = args[0];
      const text = typeof first === "string" ? first : ((first as { text?: string })?.text ?? "");
      const second = args[1];
      let label = /(async_tools|resonate)\.(\w+)\(/.exec(text)?.[0] ?? text.slice(0, 40);
      if (Array.isArray(second) && typeof second[0] === "string" && second[0].startsWith("{"))
        label += ` ${JSON.parse(second[0]).kind}`;
      labels.set(label, (labels.get(label) ?? 0) + 1);
    }
    return query.apply(this, args);
  };
  proto.emit = function (this: unknown, ...args: unknown[]) {
    if (args[0] === "notification") counts.notices += 1;
    return emit.apply(this, args);
  };
}
const sqlite = onPostgres ? undefined : countSqlite(Boolean(process.env.BENCH_LABELS));
const tools = await createAsyncTools({
  name: "bench-cpu",
  store,
  tools: [threeSteps],
  durability,
});
const one = async () => {
  const started = await tools.start(threeSteps, { n: fresh() });
  const [job] = await tools.wait([started.jobId], { timeoutMs: 30_000 });
  if (job?.status !== "completed") throw new Error(`job ${started.jobId} ended ${job?.status}`);
};
await window(submitters, 500, one);
const session = profile === undefined ? undefined : new Session();
if (session !== undefined) {
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
}
const before = { ...counts };
labels.clear();
sqlite?.reset();
const sampling = onPostgres && process.env.BENCH_WAITS ? sampleWaits(store) : undefined;
const thread = process.threadCpuUsage();
const measured = await window(submitters, seconds * 1000, one);
const threadUsed = process.threadCpuUsage(thread);
const waits = await sampling?.stop(measured.jobs);
const perJob = (n: number) => Number((n / Math.max(1, measured.jobs)).toFixed(2));
const pg = onPostgres
  ? {
      queriesPerJob: perJob(counts.queries - before.queries),
      noticesPerJob: perJob(counts.notices - before.notices),
    }
  : {
      mainThreadCpuUsPerJob: perJob(threadUsed.user + threadUsed.system),
      statementsPerJob: perJob(sqlite?.statements ?? 0),
      commitsPerJob: perJob(sqlite?.commits ?? 0),
      sqliteCpuUsPerJob: perJob(sqlite?.cpuUs ?? 0),
    };
if (session !== undefined && profile !== undefined) {
  const { profile: taken } = await session.post("Profiler.stop");
  writeFileSync(profile, JSON.stringify(taken));
  session.disconnect();
}
if (waits !== undefined) process.stderr.write(`${waits}\n`);
if (process.env.BENCH_LABELS) {
  for (const [label, n] of labels) process.stderr.write(`${(n / measured.jobs).toFixed(2)} ${label}\n`);
  for (const [sql, { calls, cpuUs }] of sqlite?.statementsBySql ?? [])
    process.stderr.write(`${perJob(calls)} calls ${perJob(cpuUs)} µs ${sql}\n`);
}
await tools.close();
await cluster?.stop();
process.stdout.write(
  `${JSON.stringify({ submitters, durability, ...measured, ...pg, load: loadavg()[0] })}\n`,
);

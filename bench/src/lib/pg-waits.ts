/**
 * Where the backends of one database spend a measured window: `pg_stat_activity` sampled every few
 * milliseconds on a connection of its own, each backend counted under its state, wait event and the function
 * its query calls. The result is the average number of backends in each, so "8.0 active ClientRead" reads as
 * "eight connections, all the time".
 */
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";

interface Client {
  connect(): Promise<void>;
  end(): Promise<void>;
  query<R>(text: string): Promise<{ rows: R[] }>;
}

/**
 * Seconds of CPU (user and system) used so far by the server whose backend is `backend` and its other processes,
 * leaving out `backend` itself (the sampler's own queries).
 */
function serverCpuSeconds(backend: number): number {
  const parentOf = (pid: string) => /PPid:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  const postmaster = parentOf(String(backend));
  const ticks = (pid: string) => {
    // Fields after the command (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    return Number(fields[11]) + Number(fields[12]);
  };
  let total = 0;
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      if (pid !== String(backend) && (pid === postmaster || parentOf(pid) === postmaster))
        total += ticks(pid);
    } catch {
      // The process ended meanwhile.
    }
  }
  return total / 100;
}

/** Commits, WAL syncs and the server's CPU seconds so far. */
async function totals(client: Client): Promise<{
  commits: number;
  syncs: number;
  cpu: number;
  functions: Map<string, [number, number, number]>;
}> {
  const functions = new Map<string, [number, number, number]>();
  const timed = await client.query<{ name: string; calls: string; total: number; self: number }>(
    `SELECT schemaname || '.' || funcname AS name, calls, total_time AS total, self_time AS self
       FROM pg_stat_user_functions`,
  );
  for (const row of timed.rows) functions.set(row.name, [Number(row.calls), row.total, row.self]);
  // Tables read whole: their sequential scans and rows so read, as the same triple (calls, rows, live rows).
  const scanned = await client.query<{ name: string; scans: string; read: string; live: string }>(
    `SELECT 'scan ' || schemaname || '.' || relname AS name, seq_scan AS scans, seq_tup_read AS read,
            n_live_tup + n_dead_tup AS live FROM pg_stat_user_tables`,
  );
  for (const row of scanned.rows)
    functions.set(row.name, [Number(row.scans), Number(row.read), Number(row.live)]);
  const { rows } = await client.query<{ commits: string; syncs: string; pid: number }>(
    `SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()) AS commits,
            (SELECT wal_sync FROM pg_stat_wal) AS syncs, pg_backend_pid() AS pid`,
  );
  const row = rows[0];
  return {
    commits: Number(row?.commits),
    syncs: Number(row?.syncs),
    cpu: serverCpuSeconds(row?.pid ?? 0),
    functions,
  };
}

/** The `application_name` of the sampler's own connection, so that counts of the store's queries can leave it out. */
export const SAMPLER_NAME = "bench-waits";

/** How often `pg_stat_activity` is read. */
const SAMPLE_MS = 5;

/**
 * Starts sampling the backends of the database at `url`; `stop(jobs)` ends it and returns the breakdown as text,
 * with commits, WAL syncs, the server's CPU and SQL functions' time (`track_functions`) divided by `jobs`.
 */
export function sampleWaits(url: string): { stop(jobs: number): Promise<string> } {
  const core = createRequire(import.meta.resolve("@async-tools/core/package.json"));
  const { Client } = core("pg") as {
    Client: new (config: { connectionString: string; application_name: string }) => Client;
  };
  const client = new Client({ connectionString: url, application_name: SAMPLER_NAME });
  const seen = new Map<string, number>();
  let samples = 0;
  let stopped = false;
  const loop = (async () => {
    await client.connect();
    const first = await totals(client);
    while (!stopped) {
      const { rows } = await client.query<{ key: string; n: number }>(
        `SELECT concat_ws(' ', state, coalesce(wait_event_type || ':' || wait_event, '-'),
                coalesce(substring(query from '(async_tools\\.\\w+|resonate\\.\\w+|LISTEN|INSERT INTO [a-z_.]+|SELECT \\* FROM [a-z_.]+)'), left(query, 30))) AS key,
                count(*)::int AS n
           FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
          GROUP BY 1`,
      );
      samples += 1;
      for (const row of rows) seen.set(row.key, (seen.get(row.key) ?? 0) + row.n);
      await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
    }
    // Statistics reach pg_stat_database at the end of each backend's transactions, within a second or so.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const last = await totals(client);
    await client.end();
    const functions = [...last.functions].map(([name, [calls, total, self]]) => {
      const [calls0, total0, self0] = first.functions.get(name) ?? [0, 0, 0];
      return { name, calls: calls - calls0, total: total - total0, self: self - self0 };
    });
    return {
      commits: last.commits - first.commits,
      syncs: last.syncs - first.syncs,
      cpu: last.cpu - first.cpu,
      functions: functions.filter((f) => f.calls > 0).sort((a, b) => b.self - a.self),
    };
  })();
  return {
    async stop(jobs) {
      stopped = true;
      const used = await loop;
      const per = (n: number) => (n / Math.max(1, jobs)).toFixed(2);
      const lines = [...seen]
        .map(([key, n]) => [key, n / Math.max(1, samples)] as const)
        .sort((a, b) => b[1] - a[1])
        .map(([key, n]) => `${n.toFixed(2).padStart(6)}  ${key}`);
      return [
        `per job: ${per(used.commits)} commits, ${per(used.syncs)} WAL syncs, ${per(used.cpu * 1000)} ms of the server's CPU`,
        "SQL functions per job: calls, total ms, self ms:",
        ...used.functions.map(
          (f) =>
            `${per(f.calls).padStart(7)} ${per(f.total).padStart(7)} ${per(f.self).padStart(7)}  ${f.name}`,
        ),
        `backends on average over ${samples} samples:`,
        ...lines,
      ].join("\n");
    },
  };
}

/**
 * Counts what this process asks of `node:sqlite` (statements run, by kind) and the CPU time its thread spends
 * inside those calls (`process.threadCpuUsage`: this thread's only, so neither other processes' load nor the
 * thread pool's fsyncs are in it), for the figures per job of the SQLite store.
 */
import { DatabaseSync, StatementSync } from "node:sqlite";

/** Statements and the CPU inside them since {@link countSqlite} or the last `reset`. */
export interface SqliteCounts {
  statements: number;
  /** `BEGIN` to `COMMIT` alone: the commit writes the WAL's frames. */
  commits: number;
  /** Microseconds of this thread's CPU inside node:sqlite calls. */
  cpuUs: number;
  /** With `bySql`: the calls and CPU microseconds of each statement (its first 60 characters). */
  statementsBySql: Map<string, { calls: number; cpuUs: number }>;
  reset(): void;
}

/** Wraps node:sqlite's statement and exec methods for the rest of the process's life. */
export function countSqlite(bySql = false): SqliteCounts {
  const counts: SqliteCounts = {
    statements: 0,
    commits: 0,
    cpuUs: 0,
    statementsBySql: new Map(),
    reset() {
      counts.statements = 0;
      counts.commits = 0;
      counts.cpuUs = 0;
      counts.statementsBySql.clear();
    },
  };
  const timed = <A extends unknown[], R>(call: (this: unknown, ...args: A) => R) =>
    function (this: unknown, ...args: A): R {
      const before = process.threadCpuUsage();
      try {
        return call.apply(this, args);
      } finally {
        const used = process.threadCpuUsage(before);
        const us = used.user + used.system;
        counts.cpuUs += us;
        counts.statements += 1;
        if (bySql) {
          const sql = this instanceof StatementSync ? this.sourceSQL : String(args[0]);
          const key = sql.replace(/\s+/g, " ").slice(0, 60);
          const entry = counts.statementsBySql.get(key) ?? { calls: 0, cpuUs: 0 };
          entry.calls += 1;
          entry.cpuUs += us;
          counts.statementsBySql.set(key, entry);
        }
      }
    };
  const statement = StatementSync.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const method of ["run", "get", "all"]) statement[method] = timed(statement[method] as () => unknown);
  const exec = timed(DatabaseSync.prototype.exec as (this: unknown, sql: string) => void);
  DatabaseSync.prototype.exec = function (this: DatabaseSync, sql: string) {
    if (sql === "COMMIT") counts.commits += 1;
    return exec.call(this, sql);
  };
  return counts;
}

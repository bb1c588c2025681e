/**
 * A throwaway PostgreSQL cluster for the Postgres store's tests: Debian's server binaries, a new data folder,
 * a free port on 127.0.0.1, trust authentication, started as the `postgres` user (initdb refuses root) and
 * removed afterwards. Where the binaries are missing (`.ci/run` installs Debian's `postgresql`) the tests say
 * so in one line and skip.
 */
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./net.ts";

/** A running cluster. `url(db, user)` is a connection string for one of its databases. */
export interface PostgresCluster {
  port: number;
  /** The server's version, e.g. `15.18`. */
  version: string;
  url(database?: string, user?: string): string;
  /** Runs SQL through psql as the superuser, in `database`. */
  psql(sql: string, database?: string): string;
  createDatabase(name: string): void;
  stop(): Promise<void>;
}

/** The folder of Debian's server binaries (`initdb`, `postgres`), newest version first, or `undefined`. */
export function postgresBin(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  for (const version of versions) {
    const bin = join(root, version, "bin");
    if (existsSync(join(bin, "initdb")) && existsSync(join(bin, "postgres"))) return bin;
  }
  return undefined;
}

/** Why the Postgres tests cannot run here, or `undefined` when they can. */
export function postgresUnavailable(): string | undefined {
  if (postgresBin() === undefined) return "no PostgreSQL server binaries (apt-get install postgresql)";
  if (process.getuid?.() !== 0) return "not root: cannot start a cluster as the postgres user";
  try {
    execFileSync("id", ["-u", "postgres"], { stdio: "ignore" });
  } catch {
    return "no postgres user";
  }
  return undefined;
}

/** Starts a new cluster and waits until it accepts connections. */
export async function startPostgres(): Promise<PostgresCluster> {
  const bin = postgresBin();
  if (bin === undefined) throw new Error("no PostgreSQL server binaries");
  const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
  const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
  const dir = mkdtempSync(join(tmpdir(), "async-tools-pg-"));
  chmodSync(dir, 0o700);
  chownSync(dir, uid, gid);
  const data = join(dir, "data");
  const asPostgres = (command: string, args: string[]) =>
    execFileSync("runuser", ["-u", "postgres", "--", command, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
  asPostgres(join(bin, "initdb"), ["-D", data, "--auth=trust", "-U", "postgres", "-E", "UTF8", "--no-sync"]);
  const port = await freePort();
  const server = spawn(
    "runuser",
    [
      "-u",
      "postgres",
      "--",
      join(bin, "postgres"),
      "-D",
      data,
      "-p",
      String(port),
      "-k",
      dir,
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "max_connections=200",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let log = "";
  server.stderr?.on("data", (chunk: Buffer) => {
    log += chunk.toString();
  });
  const psql = (sql: string, database = "postgres") =>
    asPostgres(join(bin, "psql"), [
      "-h",
      "127.0.0.1",
      "-p",
      String(port),
      "-U",
      "postgres",
      "-d",
      database,
      "-v",
      "ON_ERROR_STOP=1",
      "-qAt",
      "-c",
      sql,
    ]).toString();
  // Ready when it answers; a loaded machine may take seconds, so the budget is generous.
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (server.exitCode !== null) throw new Error(`postgres exited: ${log}`);
    try {
      execFileSync(join(bin, "pg_isready"), ["-h", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`postgres did not start: ${log}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return {
    port,
    version: psql("SHOW server_version").trim().split(" ")[0] ?? "",
    url: (database = "postgres", user = "postgres") => `postgres://${user}@127.0.0.1:${port}/${database}`,
    psql,
    createDatabase: (name) => void psql(`CREATE DATABASE ${name}`),
    async stop() {
      if (server.exitCode === null) {
        const exited = new Promise((resolve) => server.once("exit", resolve));
        // runuser does not pass signals on to the server: ask pg_ctl, as the cluster's user.
        asPostgres(join(bin, "pg_ctl"), ["stop", "-D", data, "-m", "immediate", "-w"]);
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

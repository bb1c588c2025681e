/**
 * Opens the Postgres store: checks the schema and the role's grants first (a database this library does not
 * match is refused with the command to run), then the SDK's `PostgresNetwork`, initialised once per process.
 * `pg` is an optional peer, loaded only here.
 */
import type { Logger, Network } from "@resonatehq/sdk";
import { DEFAULTS, DEFAULTS_POSTGRES } from "../../defaults.ts";
import { AsyncToolsError } from "../../errors.ts";
import { log } from "../../internal/log.ts";
import { type PgPool, PostgresJobIndex, PostgresStepLog } from "./postgres-index.ts";
import { checkSchema, type InitResult, initSchema, type Queryable } from "./schema.ts";

interface PgClient extends Queryable {
  connect(): Promise<void>;
  end(): Promise<void>;
}
interface PgConfig {
  connectionString: string;
  application_name?: string;
  max?: number;
}
type PgModule = { Client: new (config: PgConfig) => PgClient; Pool: new (config: PgConfig) => PgPool };

/** The `application_name` our connections show in `pg_stat_activity`. */
export const APPLICATION_NAME = "async-tools";

async function loadPg(): Promise<PgModule> {
  try {
    const module = (await import("pg")) as unknown as { default?: PgModule } & Partial<PgModule>;
    const Client = module.Client ?? module.default?.Client;
    const Pool = module.Pool ?? module.default?.Pool;
    if (Client === undefined || Pool === undefined) throw new Error("pg has no Client or Pool");
    return { Client, Pool };
  } catch (cause) {
    throw new AsyncToolsError(
      "INVALID_STORE",
      "The Postgres store needs the `pg` package: install it next to the server (npm install pg).",
      { cause },
    );
  }
}

/** Runs `use` on a connection of its own, closed afterwards. */
async function withClient<T>(url: string, use: (client: PgClient) => Promise<T>): Promise<T> {
  const { Client } = await loadPg();
  const client = new Client({ connectionString: url, application_name: APPLICATION_NAME });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** `async-tools store init`: applies the missing migrations to the database at `url`. */
export function initPostgres(url: string): Promise<InitResult> {
  return withClient(url, (client) => initSchema(client));
}

/** Refuses a database whose schema or grants this library does not match; `where` is the redacted URL. */
export function checkPostgres(url: string, where: string): Promise<void> {
  return withClient(url, (client) => checkSchema(client, where));
}

type PostgresNetworkClass = new (cfg: {
  connectionString: string;
  pid?: string;
  group?: string;
  logger?: Logger;
}) => Network & { init(): Promise<void>; stop(): Promise<void> };

/**
 * The SDK's `PostgresNetwork` with `init()` run once: the store opens it, and `new Resonate()` calls `init()`
 * again, which would open a second LISTEN connection and leave it open.
 */
export async function postgresNetwork(options: {
  url: string;
  pid: string;
  group: string;
  logger: Logger;
}): Promise<Network> {
  let PostgresNetwork: PostgresNetworkClass;
  try {
    ({ PostgresNetwork } = (await import("@resonatehq/sdk/postgres")) as unknown as {
      PostgresNetwork: PostgresNetworkClass;
    });
  } catch (cause) {
    throw new AsyncToolsError("INVALID_STORE", "The postgres store needs @resonatehq/sdk/postgres.", {
      cause,
    });
  }
  const network = new PostgresNetwork({
    connectionString: options.url,
    pid: options.pid,
    group: options.group,
    logger: options.logger,
  });
  const init = network.init.bind(network);
  let once: Promise<void> | undefined;
  network.init = () => {
    once ??= init();
    return once;
  };
  return network;
}

/**
 * What a replica keeps beside the Resonate network, on a small pool of its own: the job index, the step log,
 * and its presence (every `presenceMs` it says it is alive and expires the tasks of replicas silent for
 * `replicaStaleMs`; on close it expires its own), and how to close them.
 */
export async function postgresReplica(
  url: string,
  replica: { pid: string; group: string; retentionMs: number },
): Promise<{ jobs: PostgresJobIndex; steps: PostgresStepLog; close(): Promise<void> }> {
  const { Pool } = await loadPg();
  const pool = new Pool({
    connectionString: url,
    application_name: APPLICATION_NAME,
    max: DEFAULTS_POSTGRES.indexPoolSize,
  });
  const jobs = new PostgresJobIndex(pool, DEFAULTS_POSTGRES.progressMs);
  const steps = new PostgresStepLog(pool);
  const alive = async () => {
    const { rows } = await pool.query<{ expired: number }>(
      "SELECT async_tools.replica_alive($1, $2, $3) AS expired",
      [replica.pid, replica.group, DEFAULTS_POSTGRES.replicaStaleMs],
    );
    const expired = Number(rows[0]?.expired ?? 0);
    if (expired > 0) log("info", "took over the tasks of a replica that stopped", { tasks: expired });
  };
  const retain = async () => {
    const { rows } = await pool.query<{ removed: string }>("SELECT async_tools.retain($1, $2) AS removed", [
      replica.retentionMs,
      DEFAULTS.metadataGraceMs,
    ]);
    const removed = Number(rows[0]?.removed ?? 0);
    if (removed > 0) log("info", "retention removed finished jobs", { promises: removed });
  };
  await alive();
  await retain();
  let beat: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    beat = alive().catch((error: unknown) => log("warn", "replica presence not recorded", { error }));
  }, DEFAULTS_POSTGRES.presenceMs);
  timer.unref();
  let sweep: Promise<void> = Promise.resolve();
  const sweeper = setInterval(() => {
    sweep = retain().catch((error: unknown) => log("warn", "retention did not run", { error }));
  }, DEFAULTS_POSTGRES.retentionSweepMs);
  sweeper.unref();
  return {
    jobs,
    steps,
    async close() {
      clearInterval(timer);
      clearInterval(sweeper);
      await Promise.all([beat, sweep]);
      await jobs.flush();
      await steps.settled();
      await pool
        .query("SELECT async_tools.replica_gone($1)", [replica.pid])
        .catch((error: unknown) => log("warn", "replica presence not removed", { error }));
      await pool.end();
    },
  };
}

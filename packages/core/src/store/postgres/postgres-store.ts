/**
 * Opens the Postgres store: checks the schema and the role's grants first (a database this library does not
 * match is refused with the command to run), then our Resonate network on resonate-pg's schema, initialised
 * once per process.
 * `pg` is an optional peer, loaded only here.
 */
import type { Logger } from "@resonatehq/sdk";
import { DEFAULTS, DEFAULTS_POSTGRES } from "../../defaults.ts";
import { AsyncToolsError } from "../../errors.ts";
import { log } from "../../internal/log.ts";
import type { PostgresOptions } from "../store.ts";
import { type PgPool, PostgresJobIndex, PostgresStepLog } from "./postgres-index.ts";
import { AsyncToolsPostgresNetwork, type ListenClient } from "./postgres-network.ts";
import { PostgresSlots } from "./postgres-slots.ts";
import { checkSchema, type InitResult, initSchema, type Queryable } from "./schema.ts";
import type { StepCheckpoints } from "./step-checkpoints.ts";

interface PgClient extends Queryable {
  connect(): Promise<void>;
  end(): Promise<void>;
}
interface PgConfig {
  connectionString: string;
  options?: string;
  application_name?: string;
  max?: number;
}
type PgModule = { Client: new (config: PgConfig) => PgClient; Pool: new (config: PgConfig) => PgPool };

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
  const client = new Client({ connectionString: url, application_name: DEFAULTS_POSTGRES.applicationName });
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

export type { PostgresOptions };

/** Refuses a database whose schema or grants this library does not match; `where` is the redacted URL. */
export function checkPostgres(url: string, where: string): Promise<void> {
  return withClient(url, (client) => checkSchema(client, where));
}

/** The network of a replica: ours on resonate-pg's schema ({@link AsyncToolsPostgresNetwork}). */
export async function postgresNetwork(options: {
  url: string;
  pid: string;
  group: string;
  logger: Logger;
  postgres?: PostgresOptions | undefined;
  checkpoints?: StepCheckpoints;
}): Promise<AsyncToolsPostgresNetwork> {
  const { Client, Pool } = await loadPg();
  const settings = postgresSettings(options.postgres);
  const config = { connectionString: options.url, application_name: settings.applicationName };
  return new AsyncToolsPostgresNetwork(
    { pool: (max) => new Pool({ ...config, max }), client: () => new Client(config) as ListenClient },
    {
      pid: options.pid,
      group: options.group,
      logger: options.logger,
      poolSize: settings.poolSize,
      tickMs: settings.tickMs,
      batchesInFlight: DEFAULTS_POSTGRES.rpcBatchesInFlight,
      batchLockWaitMs: DEFAULTS_POSTGRES.batchLockWaitMs,
      checkpoints: options.checkpoints,
      stepCreateTrustMs: DEFAULTS_POSTGRES.stepCreateTrustMs,
      listenRetryMs: DEFAULTS_POSTGRES.listenRetryMs,
      listenRetryMaxMs: DEFAULTS_POSTGRES.listenRetryMaxMs,
    },
  );
}

/** `options` with every setting filled in from its default, checked. */
export function postgresSettings(options: PostgresOptions | undefined): Required<PostgresOptions> {
  const settings = {
    poolSize: options?.poolSize ?? DEFAULTS_POSTGRES.poolSize,
    tickMs: options?.tickMs ?? DEFAULTS_POSTGRES.tickMs,
    applicationName: options?.applicationName ?? DEFAULTS_POSTGRES.applicationName,
  };
  if (!(Number.isInteger(settings.poolSize) && settings.poolSize > 0))
    throw new AsyncToolsError("INVALID_CONFIG", "postgres.poolSize must be a positive integer (default 8).");
  if (!(Number.isFinite(settings.tickMs) && settings.tickMs > 0))
    throw new AsyncToolsError(
      "INVALID_CONFIG",
      "postgres.tickMs must be a positive number of milliseconds (default 250).",
    );
  return settings;
}

/**
 * What a replica keeps beside the Resonate network, on a small pool of its own: the job index, the step log,
 * the tools' concurrency slots (global: shared by every replica), and its presence (every `presenceMs` it says it is alive and expires the tasks of replicas silent for
 * `replicaStaleMs`; on close it expires its own), and how to close them.
 */
export async function postgresReplica(
  url: string,
  replica: {
    pid: string;
    group: string;
    retentionMs: number;
    postgres?: PostgresOptions | undefined;
    checkpoints?: StepCheckpoints;
  },
): Promise<{
  jobs: PostgresJobIndex;
  steps: PostgresStepLog;
  slots(tool: string, limit: number): PostgresSlots;
  close(): Promise<void>;
}> {
  const { Pool } = await loadPg();
  const pool = new Pool({
    connectionString: url,
    application_name: postgresSettings(replica.postgres).applicationName,
    max: DEFAULTS_POSTGRES.indexPoolSize,
    // What this pool writes describes jobs (the promises are the jobs): a crash of Postgres may lose its last
    // fraction of a second, never a job, so its commits do not wait for the disk.
    options: "-c synchronous_commit=off",
  });
  const jobs = new PostgresJobIndex(pool, DEFAULTS_POSTGRES.progressMs);
  const steps = new PostgresStepLog(pool, replica.checkpoints);
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
  const slots: PostgresSlots[] = [];
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
    slots: (tool, limit) => {
      const made = new PostgresSlots(pool, {
        pid: replica.pid,
        tool,
        limit,
        pollMs: DEFAULTS_POSTGRES.slotPollMs,
      });
      slots.push(made);
      return made;
    },
    async close() {
      clearInterval(timer);
      clearInterval(sweeper);
      await Promise.all([beat, sweep, ...slots.map((s) => s.close())]);
      await jobs.flush();
      await steps.settled();
      await pool
        .query("SELECT async_tools.replica_gone($1)", [replica.pid])
        .catch((error: unknown) => log("warn", "replica presence not removed", { error }));
      await pool.end();
    },
  };
}

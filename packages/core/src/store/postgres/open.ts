/**
 * Opening a Postgres store: the schema checked, our network on resonate-pg's schema initialised, and this replica's
 * job index, step log and presence, failing fast when Postgres does not answer.
 */
import { DEFAULTS, DEFAULTS_POSTGRES } from "../../defaults.ts";
import { AsyncToolsError } from "../../errors.ts";
import { reachable, redact, withTimeout } from "../connect.ts";
import type { OpenStoreOptions, Store } from "../store.ts";
import { postgresChanges } from "./postgres-changes.ts";
import { checkPostgres, postgresNetwork, postgresReplica } from "./postgres-store.ts";
import { StepCheckpoints } from "./step-checkpoints.ts";

/**
 * Opens the Postgres store at `url`.
 *
 * @throws AsyncToolsError `STORE_UNREACHABLE` when Postgres does not answer within
 * `options.connectTimeoutMs`, `STORE_SCHEMA` when its schema is missing or not ours.
 */
export async function openPostgresStore(url: string, options: OpenStoreOptions): Promise<Store> {
  const timeoutMs = options.connectTimeoutMs ?? DEFAULTS.storeConnectTimeoutMs;
  const where = redact(url);
  try {
    await withTimeout(checkPostgres(url, where), timeoutMs);
  } catch (cause) {
    if (cause instanceof AsyncToolsError) throw cause;
    const message = cause instanceof Error ? cause.message : String(cause);
    throw new AsyncToolsError(
      "STORE_UNREACHABLE",
      `Cannot use the Postgres store ${where}: ${message}. Check that Postgres runs and the URL is right.`,
      { cause },
    );
  }
  // Shared by the network and the step log: a step's record rides with the requests of its promise.
  const checkpoints = new StepCheckpoints(
    DEFAULTS_POSTGRES.stepEndHoldMs,
    DEFAULTS_POSTGRES.stepCreateHoldMs,
  );
  const network = await postgresNetwork({
    url,
    pid: options.pid,
    group: options.group,
    logger: options.logger,
    postgres: options.postgres,
    checkpoints,
  });
  const changes = postgresChanges(network);
  try {
    await withTimeout(network.init(), timeoutMs);
  } catch (cause) {
    await network.stop().catch(() => undefined);
    const message = cause instanceof Error ? cause.message : String(cause);
    throw new AsyncToolsError("STORE_UNREACHABLE", `Cannot use the Postgres store ${where}: ${message}.`, {
      cause,
    });
  }
  await reachable(network, where, timeoutMs);
  const index = await postgresReplica(url, {
    pid: options.pid,
    group: options.group,
    retentionMs: options.retentionMs,
    postgres: options.postgres,
    checkpoints,
  });
  return {
    kind: "postgres",
    description: where,
    durable: true,
    role: "remote",
    network,
    jobs: index.jobs,
    steps: index.steps,
    settled: (ids) => index.jobs.settled(ids),
    changes,
    slots: index.slots,
    recover: () => undefined,
    close: async () => {
      await index.jobs.flush().catch(() => undefined);
      index.steps.close();
      await network.stop();
      await index.close();
    },
  };
}

/**
 * Opening the embedded SQLite store in this process: the network and, on its connection, the job index and the
 * step log, with one close for the three. The memory store is this on `:memory:`; the owner of a shared file
 * and `store serve` open their file with it too.
 */
import type { OpenStoreOptions, Store } from "../store.ts";
import { JobMeta } from "./job-meta.ts";
import { SqliteNetwork, type SqliteNetworkOptions } from "./sqlite-network.ts";
import { StepLog } from "./step-log.ts";

/** A store file (or memory) open in this process. */
export interface EmbeddedStore {
  network: SqliteNetwork;
  jobs: JobMeta;
  steps: StepLog;
  /** Writes what the index queued, then closes the step log and the file. */
  close(): Promise<void>;
}

/**
 * Opens the network at `options.path` and the job index and step log on its connection; `where` names the
 * store in the index's errors.
 *
 * @throws AsyncToolsError `STORE_LOCKED`, `STORE_CORRUPT` or `STORE_IO` as {@link SqliteNetwork.open} does.
 */
export async function openEmbedded(options: SqliteNetworkOptions, where: string): Promise<EmbeddedStore> {
  const network = await SqliteNetwork.open(options);
  const jobs = new JobMeta(network.db, where, network, (id) => {
    const principal = network.principalOf(id);
    network.changes.emit([
      principal === undefined ? { id, what: "progress" } : { id, what: "progress", principal },
    ]);
  });
  const steps = new StepLog(network.db, network);
  return {
    network,
    jobs,
    steps,
    close: async () => {
      await jobs.flush().catch(() => undefined);
      // Before the file closes: the step log writes on its connection.
      steps.close();
      await network.stop();
    },
  };
}

/** The memory store: the embedded network on `:memory:`; nothing survives the process. */
export async function openMemoryStore(options: OpenStoreOptions): Promise<Store> {
  const embedded = await openEmbedded(
    { path: ":memory:", pid: options.pid, group: options.group, retentionMs: options.retentionMs },
    "memory",
  );
  const { network, jobs, steps } = embedded;
  return {
    kind: "memory",
    description: "memory (not durable)",
    durable: false,
    role: "owner",
    network,
    jobs,
    steps,
    settled: (ids) => network.settledAmong(ids),
    changes: network.changes,
    gc: (now, retentionMs) => network.gc(now, retentionMs),
    recover: () => network.recover(),
    close: embedded.close,
  };
}

/** A job index and step log of this process alone, for a store that holds neither. */
export interface PrivateIndex {
  jobs: JobMeta;
  steps: StepLog;
  close(): Promise<void>;
}

/**
 * A job index and a step log in a private in-memory database: for a network that holds neither (a Resonate
 * Server, a `Network` passed in code), so they live as long as this process.
 */
export function privateIndex(): PrivateIndex {
  const jobs = new JobMeta();
  const steps = new StepLog();
  return {
    jobs,
    steps,
    close: async () => {
      await jobs.flush().catch(() => undefined);
      steps.close();
      jobs.close();
    },
  };
}

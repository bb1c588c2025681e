/**
 * The change feed of a Postgres store: migration 0008's triggers NOTIFY a job's ID on `async_tools_changes`
 * when its promise or a question of it is created or settled, or its progress stored, by any replica; the
 * network's LISTEN connection listens there too and hands the notices here, to this replica's readers.
 */
import { ChangeHub } from "../change-feed.ts";
import type { AsyncToolsPostgresNetwork } from "./postgres-network.ts";

/** The NOTIFY channel of migration 0008. */
export const CHANGES_CHANNEL = "async_tools_changes";

/** The job changes every replica of a Postgres store makes, heard on `network`'s LISTEN connection. */
export function postgresChanges(network: Pick<AsyncToolsPostgresNetwork, "listenAlso">): ChangeHub {
  const changes = new ChangeHub();
  network.listenAlso(
    CHANGES_CHANNEL,
    (jobId) => {
      if (jobId !== "") changes.emit([jobId]);
    },
    // The LISTEN connection was down a while: any job may have changed unheard.
    () => changes.emit("any"),
  );
  return changes;
}

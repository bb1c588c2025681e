/**
 * The change feed of a Postgres store: migration 0012's triggers NOTIFY `{id, what, principal}` on
 * `async_tools_changes` when a job's promise or a question of it is created or settled, or its progress stored,
 * by any replica; the network's LISTEN connection listens there too and hands the notices here, to this
 * replica's readers.
 */
import { ChangeHub, changeFrom } from "../change-feed.ts";
import type { ChangedJobs } from "../store.ts";
import type { AsyncToolsPostgresNetwork } from "./postgres-network.ts";

/** The NOTIFY channel of migrations 0008 and 0012. */
export const CHANGES_CHANNEL = "async_tools_changes";

/**
 * The change a notice's `payload` tells: migration 0012's JSON, or a job's ID alone (migration 0008's notice:
 * any change of the job). An empty payload (a change too large to tell) may be any job's.
 */
export function changesOfNotice(payload: string): ChangedJobs {
  if (payload === "") return "any";
  let sent: unknown = payload;
  if (payload.startsWith("{")) {
    try {
      sent = JSON.parse(payload);
    } catch {
      // Not JSON after all: a job's ID.
    }
  }
  const change = changeFrom(sent);
  return change === undefined ? "any" : [change];
}

/** The job changes every replica of a Postgres store makes, heard on `network`'s LISTEN connection. */
export function postgresChanges(network: Pick<AsyncToolsPostgresNetwork, "listenAlso">): ChangeHub {
  const changes = new ChangeHub();
  network.listenAlso(
    CHANGES_CHANNEL,
    (payload) => changes.emit(changesOfNotice(payload)),
    // The LISTEN connection was down a while: any job may have changed unheard.
    () => changes.emit("any"),
  );
  return changes;
}

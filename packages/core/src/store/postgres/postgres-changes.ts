/**
 * The change feed of a Postgres store: migration 0008's triggers NOTIFY a job's ID on `async_tools_changes`
 * when its promise or a question of it is created or settled, or its progress stored, by any replica; this
 * replica LISTENs there on a connection of its own (the network's LISTEN connection wakes drains, on other
 * channels) and tells its readers. A dropped connection is opened again, and its readers told to read
 * everything again, since notices sent meanwhile are lost.
 */
import { DEFAULTS_POSTGRES } from "../../defaults.ts";
import { log } from "../../internal/log.ts";
import { ChangeHub } from "../change-feed.ts";
import type { Queryable } from "./schema.ts";

/** The NOTIFY channel of migration 0008. */
export const CHANGES_CHANNEL = "async_tools_changes";

/** A `pg` client that LISTENs and hears notifications with their payload. */
export interface NoticeClient extends Queryable {
  connect(): Promise<void>;
  end(): Promise<void>;
  on(event: "notification", listener: (notice: { channel: string; payload?: string }) => void): unknown;
  on(event: "error" | "end", listener: (error?: Error) => void): unknown;
}

/** The job changes every replica of a Postgres store makes, heard on one LISTEN connection. */
export class PostgresChanges extends ChangeHub {
  private readonly connect: () => NoticeClient;
  private client: NoticeClient | undefined;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;

  /** `connect` makes a new, unconnected client each time (a reconnect needs a fresh one). */
  constructor(connect: () => NoticeClient) {
    super();
    this.connect = connect;
  }

  /**
   * Opens the connection and LISTENs.
   *
   * @throws what `pg` throws when Postgres does not take the connection.
   */
  async start(): Promise<void> {
    const client = this.connect();
    let lost = false;
    const drop = (error?: Error) => {
      if (lost || this.stopped) return;
      lost = true;
      log("warn", "postgres change feed connection lost; reconnecting", { error });
      void client.end().catch(() => undefined);
      this.reconnect();
    };
    client.on("error", drop);
    client.on("end", drop);
    client.on("notification", (notice) => {
      if (notice.channel === CHANGES_CHANNEL && notice.payload) this.emit([notice.payload]);
    });
    await client.connect();
    await client.query(`LISTEN ${CHANGES_CHANNEL}`);
    this.client = client;
  }

  /** Closes the connection. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    await this.client?.end().catch(() => undefined);
  }

  private reconnect(): void {
    this.client = undefined;
    this.retry = setTimeout(() => {
      this.start().then(
        // Whatever changed while no one listened: the readers read everything again.
        () => this.emit("any"),
        (error: unknown) => {
          if (this.stopped) return;
          log("debug", "postgres change feed cannot reconnect yet", { error });
          this.reconnect();
        },
      );
    }, DEFAULTS_POSTGRES.listenRetryMs);
    this.retry.unref();
  }
}

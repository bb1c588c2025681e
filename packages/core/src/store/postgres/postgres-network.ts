/**
 * Our Resonate network on resonate-pg's schema, in place of the SDK's `PostgresNetwork`: the same addresses,
 * requests and NOTIFY channels, so replicas of either kind share a store, but with its pool size, fallback tick
 * and `application_name` configurable, one init per process, a drain that is one query
 * (`async_tools.drain`, migration 0007) rather than four, and a step's record in the step log riding with the
 * requests of its promise (`async_tools.rpc`, migration 0010).
 */
import type { Logger, Message, Network, Request, Send } from "@resonatehq/sdk";
import { createdAnswer, FirstRuns, promiseIdsOf, stepCreateOf } from "./first-runs.ts";
import type { Queryable } from "./schema.ts";
import { type SentRequest, type StepCheckpoints, type StepRecord, stepRecordOf } from "./step-checkpoints.ts";

/** A `pg` client held open for LISTEN. */
export interface ListenClient extends Queryable {
  connect(): Promise<void>;
  end(): Promise<void>;
  on(event: "notification", listener: (notice: { channel: string; payload?: string }) => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
  on(event: "end", listener: () => void): unknown;
}

/** What the network needs of `pg`. */
export interface PgDriver {
  pool(max: number): Queryable & { end(): Promise<void> };
  client(): ListenClient;
}

/** How the network runs. */
export interface PostgresNetworkOptions {
  pid: string;
  group: string;
  logger: Logger;
  /** Connections for requests and drains. */
  poolSize: number;
  /** A drain runs at least this often, so timers fire and a missed NOTIFY is caught up. */
  tickMs: number;
  /** Requests in flight at once; those sent meanwhile wait and go together, in one round trip and one commit. */
  batchesInFlight: number;
  /** Longest wait of a batched request for a lock; one that would wait longer is sent again alone. */
  batchLockWaitMs: number;
  /**
   * Where a step's create leaves the attempt it started and its settle takes the attempt's end; with it, a
   * step's create on its task's first run is answered here and sent with the step's settle.
   */
  checkpoints?: StepCheckpoints | undefined;
  /** How long after an answer showing a task held here its steps' creates may be answered here. */
  stepCreateTrustMs?: number;
  /** First wait before the LISTEN connection, once dead, is opened again; it doubles up to `listenRetryMaxMs`. */
  listenRetryMs: number;
  listenRetryMaxMs: number;
}

/** Rows a drain takes per address and kind before it asks again; also the most requests sent as one batch. */
const DRAIN_BATCH = 100;

/**
 * One batch's round trip. The requests and their step records go as one JSON array each, and the answers come
 * back as one: `pg` parses a `json` value with `JSON.parse`, but a `jsonb[]` character by character in
 * JavaScript (`postgres-array`), and writes one by escaping each element; with many jobs in flight that parsing
 * was the largest share of this process's CPU. The elements keep their order (`WITH ORDINALITY`); a `null`
 * step record is SQL NULL, as before.
 */
const BATCH_QUERY = `SELECT array_to_json(async_tools.rpc_batch(
  ARRAY(SELECT r FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(r, i) ORDER BY i),
  $2,
  ARRAY(SELECT NULLIF(s, 'null'::jsonb) FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS t(s, i) ORDER BY i)
)) AS answers`;

/** Postgres's SQLSTATE for a lock not taken within `lock_timeout`. */
const LOCK_NOT_AVAILABLE = "55P03";

/** Whether a batch's answer says its request failed there (a lock it would have waited for). */
function failedInBatch(answer: unknown): boolean {
  return answer === undefined || (typeof answer === "object" && answer !== null && "error" in answer);
}

/** A listener of a channel other than the drains'. */
interface Also {
  hear(payload: string): void;
  missed(): void;
}

/**
 * A request waiting for its round trip, with the step record that goes with it, and, for a step's settle, the
 * step's create answered here, which goes just before it in the same transaction.
 */
interface Pending extends StepRecord {
  body: string;
  before?: SentRequest | undefined;
  resolve(answer: unknown): void;
  reject(error: unknown): void;
}

type DrainRow = {
  kind: "execute" | "unblock";
  task_id: string | null;
  version: number | null;
  promise: unknown;
};

/** Resonate's protocol over resonate-pg's stored procedures. */
export class AsyncToolsPostgresNetwork implements Network {
  readonly unicast: string;
  readonly anycast: string;
  private readonly options: PostgresNetworkOptions;
  private readonly driver: PgDriver;
  private readonly pool: Queryable & { end(): Promise<void> };
  private listener: ListenClient | undefined;
  private readonly callbacks: ((message: Message) => void)[] = [];
  /** Channels the LISTEN connection also listens on, for others than the drains (the change feed). */
  private readonly also = new Map<string, Also>();
  /** Every channel the LISTEN connection listens on, known once the network started. */
  private channels: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private relisten: NodeJS.Timeout | undefined;
  private draining = false;
  private again = false;
  private stopped = false;
  private started: Promise<void> | undefined;
  private readonly pending: Pending[] = [];
  private inFlight = 0;
  private readonly firstRuns: FirstRuns | undefined;

  constructor(driver: PgDriver, options: PostgresNetworkOptions) {
    this.driver = driver;
    this.options = options;
    this.pool = driver.pool(options.poolSize);
    if (options.checkpoints !== undefined && options.stepCreateTrustMs !== undefined)
      this.firstRuns = new FirstRuns(options.stepCreateTrustMs);
    // The addresses of the SDK's PostgresNetwork: a task targets the group, a listener this process.
    this.unicast = `poll://uni@${options.group}/${options.pid}`;
    this.anycast = `poll://any@${options.group}`;
  }

  match(target: string): string {
    return `poll://any@${target}`;
  }

  /** Opens the LISTEN connection and drains once; `new Resonate()` calling it again changes nothing. */
  init(): Promise<void> {
    this.started ??= this.start();
    return this.started;
  }

  private async start(): Promise<void> {
    const { rows } = await this.pool.query<{ channel: string }>(
      "SELECT resonate.outbox_channel(a) AS channel FROM unnest($1::text[]) AS a",
      [[this.unicast, this.anycast]],
    );
    this.channels = [...rows.map((row) => row.channel), ...this.also.keys()];
    await this.listen();
    await this.drain();
  }

  /**
   * Opens the LISTEN connection on every channel. When it dies later (Postgres restarted, its backend was
   * terminated), another is opened after a backoff ({@link AsyncToolsPostgresNetwork.relistenAfter}).
   */
  private async listen(): Promise<void> {
    const listener = this.driver.client();
    let ready = false;
    const lost = (error?: Error) => {
      if (!ready || this.stopped || this.listener !== listener) return;
      this.listener = undefined;
      this.options.logger.warn(
        { component: "network", error: error?.message ?? "connection ended" },
        "postgres LISTEN connection lost; opening another",
      );
      void listener.end().catch(() => undefined);
      this.relistenAfter(this.options.listenRetryMs);
    };
    listener.on("notification", (notice) => {
      const also = this.also.get(notice.channel);
      if (also === undefined) void this.drain();
      else also.hear(notice.payload ?? "");
    });
    // An error before the connection is ready is the caller's to handle; a handler must be there all along, or
    // the error would be thrown out of the event emitter.
    listener.on("error", (error) => lost(error));
    listener.on("end", () => lost());
    try {
      await listener.connect();
      await listener.query(this.channels.map((channel) => `LISTEN "${channel}"`).join("; "));
    } catch (error) {
      await listener.end().catch(() => undefined);
      throw error;
    }
    if (this.stopped) {
      await listener.end().catch(() => undefined);
      return;
    }
    this.listener = listener;
    ready = true;
  }

  /**
   * Opens the LISTEN connection again after `delayMs` (doubling while it fails, up to `listenRetryMaxMs`), then
   * reads what its notices may have missed meanwhile: a drain for this replica's messages, and every reader of
   * the change feed reads what it follows again.
   */
  private relistenAfter(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.relisten);
    this.relisten = setTimeout(async () => {
      try {
        await this.listen();
      } catch (error) {
        this.options.logger.warn(
          { component: "network", error: error instanceof Error ? error.message : String(error) },
          "postgres LISTEN connection not opened; trying again",
        );
        this.relistenAfter(Math.min(2 * delayMs, this.options.listenRetryMaxMs));
        return;
      }
      if (this.stopped) return;
      this.options.logger.info({ component: "network" }, "postgres LISTEN connection opened again");
      void this.drain();
      for (const also of this.also.values()) also.missed();
    }, delayMs);
    this.relisten.unref?.();
  }

  /**
   * Hands the notices of `channel` to `hear` (their payload) rather than waking a drain: one LISTEN connection
   * serves the drains and the change feed. `missed` is called when notices may have been lost (the connection
   * died and was opened again). Call it before {@link AsyncToolsPostgresNetwork.init}.
   */
  listenAlso(channel: string, hear: (payload: string) => void, missed: () => void): void {
    this.also.set(channel, { hear, missed });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.relisten);
    await this.listener?.end().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }

  /**
   * Sends `request` at once while fewer than `batchesInFlight` are out; otherwise it waits, and everything that
   * waits goes in the next round trip as one batch (`async_tools.rpc_batch`): many jobs' requests, one commit.
   * A step's create on its task's first run is answered here and goes with the step's settle
   * ({@link FirstRuns}); a request naming such a step goes after its create.
   */
  send: Send = ((request: Request) => {
    const now = Date.now();
    const checkpoints = this.options.checkpoints;
    const firstRuns = this.firstRuns;
    if (checkpoints === undefined || firstRuns === undefined) return this.enqueue(request, now);
    firstRuns.ending(request);
    const create = stepCreateOf(request);
    if (create !== undefined && firstRuns.mayAnswer(create, now)) {
      const id = create.data.action.data.id;
      const sent = { body: JSON.stringify(request), step: JSON.stringify({ at: now }) };
      // No promise, no rows: the step's first attempt is attempt 1.
      checkpoints.start(id, 1);
      checkpoints.holdCreate(id, create.data.id, sent, () =>
        this.enqueue(request, now, sent).then(() => undefined),
      );
      return Promise.resolve(createdAnswer(create, now));
    }
    const waiting = promiseIdsOf(request).filter((id) => checkpoints.unsentOrSending(id));
    if (waiting.length === 0) return this.enqueue(request, now);
    if (request.kind === "task.fence" && request.data.action.kind === "promise.settle") {
      const id = request.data.action.data.id;
      const createRequest = checkpoints.takeCreate(id);
      if (createRequest !== undefined) return this.enqueue(request, now, undefined, createRequest);
    }
    return Promise.all(waiting.map((id) => checkpoints.created(id))).then(() => this.enqueue(request, now));
  }) as Send;

  /** Queues `request` (as `sent`, or with its own step record) for the next round trip; `before` goes first. */
  private enqueue(
    request: Request,
    sentAt: number,
    sent?: SentRequest,
    before?: SentRequest,
  ): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      this.pending.push({
        ...(sent ?? {
          ...stepRecordOf(request, this.options.checkpoints, sentAt),
          body: JSON.stringify(request),
        }),
        before,
        resolve: (answer) => {
          this.firstRuns?.observe(request, answer, sentAt);
          resolve(answer);
        },
        reject,
      } as Pending);
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.options.batchesInFlight && this.pending.length > 0) {
      const batch = this.pending.splice(0, DRAIN_BATCH);
      this.inFlight += 1;
      void this.sendBatch(batch).finally(() => {
        this.inFlight -= 1;
        this.pump();
      });
    }
  }

  private async sendBatch(batch: Pending[]): Promise<void> {
    if (batch.length === 1 && batch[0]?.before === undefined) {
      await this.alone(batch[0] as Pending);
      return;
    }
    // A settle with its step's create held here sends both, the create first.
    const sent = batch.flatMap((p) => (p.before === undefined ? [p] : [p.before, p]));
    let answers: unknown[];
    try {
      answers = await this.batchQuery(sent);
    } catch (error) {
      // The batch's lock timeout also bounds its commit, where NOTIFY waits for the queue's lock while many
      // transactions commit at once: the batch rolled back whole, and each request is sent again alone.
      if ((error as { code?: unknown } | null)?.code === LOCK_NOT_AVAILABLE) {
        await Promise.all(batch.map((p) => (batch.length === 1 ? this.oneByOne(p) : this.alone(p))));
        return;
      }
      for (const p of batch) this.fail(p, error);
      return;
    }
    let i = 0;
    await Promise.all(
      batch.map(async (p) => {
        const created = p.before === undefined ? true : !failedInBatch(answers[i++]);
        const answer = answers[i++];
        if (!created) await this.oneByOne(p);
        // A request that failed inside the batch (a lock it would have waited for) is sent again alone.
        else if (failedInBatch(answer)) await this.alone({ ...p, before: undefined });
        else this.answer(p, answer);
      }),
    );
  }

  /** One round trip of `async_tools.rpc_batch` with `sent`, in order: an answer for each. */
  private async batchQuery(sent: SentRequest[]): Promise<unknown[]> {
    const { rows } = await this.pool.query<{ answers: unknown[] | null }>(BATCH_QUERY, [
      `[${sent.map((p) => p.body).join(",")}]`,
      this.options.batchLockWaitMs,
      `[${sent.map((p) => p.step ?? "null").join(",")}]`,
    ]);
    return rows[0]?.answers ?? [];
  }

  /** Sends `p` in a round trip of its own (with its step's create, if that waits here). */
  private async alone(p: Pending): Promise<void> {
    // With its step's create: both in one batch, one round trip and one commit.
    if (p.before !== undefined) {
      await this.sendBatch([p]);
      return;
    }
    try {
      this.answer(p, await this.rpc(p));
    } catch (error) {
      this.fail(p, error);
    }
  }

  /** `async_tools.rpc` (or resonate's own for a request without a step record) with `sent`: its answer. */
  private async rpc(sent: SentRequest): Promise<unknown> {
    const { rows } =
      sent.step === null
        ? await this.pool.query<{ res: unknown }>("SELECT resonate.resonate_rpc($1::jsonb) AS res", [
            sent.body,
          ])
        : await this.pool.query<{ res: unknown }>("SELECT async_tools.rpc($1::jsonb, $2::jsonb) AS res", [
            sent.body,
            sent.step,
          ]);
    return rows[0]?.res;
  }

  /** Sends the step's create held with `p`, then `p`, each in a round trip of its own. */
  private async oneByOne(p: Pending): Promise<void> {
    try {
      if (p.before !== undefined) await this.rpc(p.before);
    } catch (error) {
      this.fail(p, error);
      return;
    }
    await this.alone({ ...p, before: undefined });
  }

  /** Resolves `p` with `answer`, once the attempt a step's create started is handed to the step log. */
  private answer(p: Pending, answer: unknown): void {
    const started = (answer as { asyncTools?: { attempt?: number } } | null | undefined)?.asyncTools;
    if (started !== undefined) {
      delete (answer as { asyncTools?: unknown }).asyncTools;
      if (p.creates !== undefined && started.attempt !== undefined)
        this.options.checkpoints?.start(p.creates, started.attempt);
    }
    p.resolve(answer);
  }

  private fail(p: Pending, error: unknown): void {
    p.held?.alone();
    p.reject(error);
  }

  recv(callback: (message: Message) => void): void {
    this.callbacks.push(callback);
  }

  private deliver(message: Message): void {
    for (const callback of this.callbacks) callback(message);
  }

  /** Fires due timers and delivers this replica's messages; wakes that come meanwhile make one more pass. */
  private async drain(): Promise<void> {
    if (this.stopped) return;
    if (this.draining) {
      this.again = true;
      return;
    }
    this.draining = true;
    try {
      let full = true;
      while (full && !this.stopped) {
        const { rows } = await this.pool.query<DrainRow>(
          "SELECT kind, task_id, version, promise FROM async_tools.drain($1, $2, $3)",
          [this.anycast, this.unicast, DRAIN_BATCH],
        );
        for (const row of rows) {
          if (row.kind === "execute")
            this.deliver({
              kind: "execute",
              head: {},
              data: { task: { id: row.task_id as string, version: row.version as number } },
            } as Message);
          else this.deliver({ kind: "unblock", head: {}, data: { promise: row.promise } } as Message);
        }
        // Fewer rows than one full batch of any part means nothing is left behind.
        full = rows.length >= DRAIN_BATCH;
      }
    } catch (error) {
      if (!this.stopped)
        this.options.logger.warn(
          { component: "network", error: error instanceof Error ? error.message : String(error) },
          "postgres drain error",
        );
    } finally {
      this.draining = false;
      if (this.again) {
        this.again = false;
        void this.drain();
      }
      this.schedule();
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.drain(), this.options.tickMs);
    this.timer.unref?.();
  }
}

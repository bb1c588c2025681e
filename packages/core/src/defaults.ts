/**
 * Every default duration and limit of the library, in one place. docs/configuration.md lists each of them;
 * a change here is a change there. Durations are milliseconds throughout the TypeScript API.
 */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const DAY = 24 * 60 * MINUTE;

export const DEFAULTS = {
  /** Lease of a running task, renewed by heartbeats at half of it; what a shared store waits after a crash. */
  leaseMs: MINUTE,
  /** How long a finished job is kept before retention removes it. */
  retentionMs: 7 * DAY,
  /** How long a job's metadata row outlives the job, so a probe can say `expired` rather than `not_found`. */
  metadataGraceMs: 30 * DAY,
  /** A job still running after this long is failed as timed out. */
  jobTimeoutMs: 60 * MINUTE,
  /** Jobs of one async tool that run at once in one process; the others wait, `queued`, in start order. */
  concurrency: 10,
  /** Attempts of a failing step, the first one included. */
  retryAttempts: 5,
  /** Delay before the first retry of a step; grows by `retryFactor` up to `retryMaxDelayMs`. */
  retryInitialDelayMs: SECOND,
  retryFactor: 2,
  retryMaxDelayMs: 30 * SECOND,
  /** How long an await blocks when the call does not say; `ASYNC_TOOLS_AWAIT_SECONDS` overrides it. */
  awaitDefaultMs: 45 * SECOND,
  /** The most an await call may block, whatever it asks. */
  awaitMaxMs: 50 * SECOND,
  /**
   * How often a reader that follows jobs on the store's change feed (an await that returns on a new question,
   * a `subscriptions/listen` stream, the check for cancels made elsewhere) reads them anyway, in case a notice
   * was lost. The feed wakes it at each change; this only bounds the delay of a lost one.
   */
  changeRecheckMs: 10 * SECOND,
  /**
   * How often such a reader reads the jobs it follows on a store without a change feed (a Resonate Server,
   * `store serve` over HTTP, a `Network` object).
   */
  jobPollMs: SECOND / 2,
  /** How long the server waits for a client it asked a job's question (elicitation, sampling) to answer. */
  clientAnswerTimeoutMs: 10 * MINUTE,
  /**
   * How often a connected client that can be asked (2025-11-25, elicitation, sampling or roots) looks in the
   * store for new questions of its principal's jobs, so it is asked even while it waits on nothing, on a store
   * without a change feed (a Resonate Server, `store serve`); with one it looks when a job changes.
   */
  questionPushCheckMs: SECOND,
  /**
   * The time slot of a claim on a question being asked of a client: a session that asks holds the current slot
   * and the next, so no other session asks it meanwhile; one that died (a SIGKILLed server) lets go within two.
   */
  questionClaimMs: 5 * SECOND,
  /** How often an await with a progress token looks for new progress. */
  progressTickMs: 250,
  /** Longest silence between two progress notifications of an await. */
  progressKeepAliveMs: 2 * SECOND,
  /** Suggested wait between two polls of a task. */
  taskPollIntervalMs: SECOND,
  /**
   * How long the `requestState` of a 2026-07-28 round of questions (an `input_required` result) stays valid:
   * the client's retry with the answers must come within it.
   */
  requestStateTtlMs: DAY,
  /** Tasks per `tasks/list` page. */
  taskPageSize: 50,
  /** Most job IDs one probe, await or cancel call takes. */
  maxIdsPerCall: 1000,
  /** Most fresh runs of one input (`<id>.r2`, `.r3`, …). */
  maxRuns: 1000,
  /** How often a task whose execution failed on a store error is offered back to the store. */
  strandedRetryMs: SECOND,
  /**
   * How often the embedded store copies its WAL into the store file (besides SQLite's checkpoint by size), so
   * a damaged or lost WAL can take at most this much acknowledged work (and the store then refuses to open).
   */
  walCheckpointMs: 30 * SECOND,
  /** How long a store on a server (a Resonate Server, `store serve`, Postgres) may take to answer at start. */
  storeConnectTimeoutMs: 5 * SECOND,
  /** Longest progress or status message kept, in characters. */
  maxMessageChars: 500,
} as const;

export const DEFAULTS_POSTGRES = {
  /** Most progress writes of one job per this interval on a Postgres store (the newest value wins). */
  progressMs: SECOND,
  /** Connections of the Resonate network (requests and drains); `postgres.poolSize`. */
  poolSize: 8,
  /** A replica drains at least this often (timers, a missed NOTIFY); `postgres.tickMs`. */
  tickMs: 250,
  /** The `application_name` of every connection, in `pg_stat_activity`; `postgres.applicationName`. */
  applicationName: "async-tools",
  /**
   * Resonate requests of one replica in flight at once; those sent meanwhile go together in the next round trip,
   * one commit for all of them (`async_tools.rpc_batch`).
   */
  rpcBatchesInFlight: 4,
  /**
   * Longest wait of a request in such a batch for a lock another transaction holds; past it the request is
   * sent again alone after the batch, so batches touching the same jobs in different orders never deadlock.
   */
  batchLockWaitMs: 100,
  /** Connections of the job index, step log and slots (beside the network's pool). */
  indexPoolSize: 2,
  /** How often a replica says it is alive (and expires the tasks of replicas that stopped saying so). */
  presenceMs: SECOND,
  /** A replica not heard from for this long is dead: its tasks go to the survivors, long before its lease. */
  replicaStaleMs: 3 * SECOND,
  /** How often a replica runs retention (one replica at a time; the first sweep runs at start). */
  retentionSweepMs: 10 * MINUTE,
  /**
   * How often a job waiting for a slot of its tool asks again (a release in the same process wakes it at once;
   * one in another replica is seen at the next ask).
   */
  slotPollMs: 250,
  /**
   * Longest a successful step attempt's end waits to ride with its step's settle into the step log (one round
   * trip and one commit for both); one that no settle took by then is written alone.
   */
  stepEndHoldMs: SECOND,
  /**
   * Longest a step's create, answered in the replica on its task's first run, waits to ride with the step's
   * settle (one round trip for both); a step still running by then has its create sent alone, so the step log
   * shows it running.
   */
  stepCreateHoldMs: SECOND,
  /**
   * A step's create is answered in the replica only within this long of the last answer that showed the replica
   * holds the job's task; it stays below `replicaStaleMs - presenceMs`, so no survivor can have taken the task
   * (and run the step) meanwhile. Past it the create goes to Postgres first.
   */
  stepCreateTrustMs: SECOND,
  /**
   * A LISTEN connection that died (Postgres restarted, the backend was terminated) is opened again after this
   * long, doubling at each failed try up to `listenRetryMaxMs`; then what its notices may have missed is read.
   */
  listenRetryMs: 100,
  /** The longest wait between two tries to open the LISTEN connection again. */
  listenRetryMaxMs: 5 * SECOND,
} as const;

export const DEFAULTS_STDIO = {
  /** Longest stdio line accepted (bytes); below the 10 MiB past which the SDK's stdio transport goes deaf. */
  maxLineBytes: 8 * 1024 * 1024,
} as const;

export const DEFAULTS_DASHBOARD = {
  /** How often the dashboard's live table and job page refresh. */
  pollMs: SECOND,
  /** Most jobs the dashboard's table shows (the newest). */
  maxRows: 100,
  /** How long a dashboard sign-in lasts. */
  sessionMs: 12 * 60 * MINUTE,
  /** Port of `async-tools dashboard` when `--port` is not given. */
  port: 4319,
} as const;

export const DEFAULTS_VIEW = {
  /** How often the job view of MCP Apps hosts polls an unfinished job. */
  pollMs: SECOND,
} as const;

export const DEFAULTS_HTTP = {
  /** Where `serveHttp` listens: loopback only, so nothing off the machine reaches it unless asked. */
  host: "127.0.0.1",
  port: 3000,
  /** The MCP endpoint's path. */
  path: "/mcp",
  /** Longest silence on a `subscriptions/listen` stream: a comment line then keeps proxies from closing it. */
  sseKeepAliveMs: 15 * SECOND,
  /** Largest request body accepted (bytes); a larger one is answered 413 before it is parsed. */
  maxBodyBytes: 4 * 1024 * 1024,
  /** A body over `maxBodyBytes` is still read, up to this much, so its 413 arrives rather than a reset. */
  maxDrainBytes: 64 * 1024 * 1024,
  /**
   * Stateful mode: most sessions held at once; a new one past it closes the least recently used. A v1 session
   * (McpServer and transport) holds about 160 KiB, so the cap bounds them near 40 MiB.
   */
  maxSessions: 256,
  /** Stateful mode: a session with no request for this long is closed (a later request with its ID gets 404). */
  sessionIdleMs: 15 * MINUTE,
  /** How long `/readyz` waits for the store before it answers 503. */
  readyTimeoutMs: 2 * SECOND,
  /**
   * Requests served at once (an SSE answer counts until it ends); one more gets 503 with `Retry-After`. Each
   * holds a socket and an MCP server, so this bounds file descriptors and memory under a flood.
   */
  maxConcurrentRequests: 1000,
  /**
   * Connections the kernel queues before `serveHttp` accepts them (Node's default is 511; the kernel caps it at
   * `net.core.somaxconn`): a burst of clients waits there instead of being reset.
   */
  listenBacklog: 4096,
  /** Blocking await calls of one principal (all callers, without auth) at once; one more gets 429. */
  maxAwaitsPerPrincipal: 100,
  /** The `Retry-After` of a 503 or 429 from the caps above, in seconds. */
  retryAfterSeconds: 2,
  /** How long a browser stays signed in to the extra routes (the jobs dashboard) after entering its token. */
  browserSignInMs: 12 * 60 * MINUTE,
} as const;

export const DEFAULTS_SERVED_STORE = {
  /**
   * Connections the store owner's port holds at once (each process of the store keeps a message stream and a
   * few request sockets); one more is closed at once, so a local flood cannot exhaust file descriptors.
   */
  maxConnections: 512,
} as const;

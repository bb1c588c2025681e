/**
 * Every assumption this runtime makes about the private parts of `@resonatehq/sdk` (0.11.5, pinned exactly)
 * lives here, checked at start so an SDK upgrade that moves them fails loudly in tests.
 *
 * 1. Leases. The SDK renews a task's lease with heartbeats only for tasks that reach it through an `execute`
 *    message (`Core.onMessage`). `Resonate.run`/`beginRun` creates the task already acquired and hands it to
 *    `Core.executeUntilBlocked` without a heartbeat, so a step longer than the lease (`ttl`) lost it and the
 *    store gave the task to a second, concurrent attempt. Wrapping `executeUntilBlocked` starts the heartbeat
 *    for every execution; for tasks that came through `onMessage` the extra start and stop are no-ops, because
 *    the heartbeat keys tasks by ID and version. Reported upstream: see docs/architecture.md.
 * 2. Unknown versions. A task whose function version is not registered makes the SDK release it and log
 *    "is not registered. Will drop." each time the store hands it out again, forever. The wrapper settles such
 *    a job as failed instead, with a value that names the version, when the runtime says it should.
 * 3. Failed executions. When the store refuses a write mid-job (a full disk), the SDK gives up the execution
 *    and tries once to release the task; that release fails too, so the task stays acquired and its job
 *    stranded until the lease lapses or the process restarts. The wrapper reports every failed execution so
 *    the runtime can keep releasing the task until the store takes writes again.
 * 4. Failed deliveries. When the store refuses the `task.acquire` of an `execute` message, the SDK drops the
 *    message; the task stays pending and nothing delivers it again. The wrapper hands such a message back to
 *    the runtime, which offers it again until the store takes the write.
 * 5. Targets. `OptionsBuilder.match` tests every target with `util.isUrl`, which builds a `URL` and catches
 *    the `TypeError` when the target is a plain name such as `"default"`. The SDK builds options several
 *    times per job (each start, each job context, each step) and the throw cost about 5% of a start's CPU.
 *    {@link memoizeTargets} remembers each target's address: both the URL test and `network.match` are pure.
 * 6. Creation. `Resonate.run` sends one `task.create` and returns a handle either way: it does not say whether
 *    the promise was made by that request or was there already (a 409, or a 200 that acquired an existing
 *    pending task, or found it fulfilled). Reading the promise first costs a round trip on every start, which
 *    a process joining a store over HTTP pays twice. {@link observeTaskCreate} wraps the private
 *    `Resonate.taskCreate` and reports what each creation found, before `run` executes anything.
 * 7. Encoding. The SDK's JSON codec turns every value into base64 through a byte-at-a-time loop
 *    (`Uint8Array.from(atob(s), ...)` to decode) and parses with a reviver called for every key, even when
 *    the text holds nothing to revive; decoding was ~11% of a three-step job's CPU. {@link speedUpCodec}
 *    gives the codec of a Resonate instance the same encoding through `Buffer`'s base64 and skips the
 *    reviver when the text has no `__` marker. Any value the fast path cannot take goes to the SDK's own
 *    method, so errors stay the SDK's. A differential test holds both to the same bytes and values.
 * 8. Lost tasks. A write of an execution whose task the store no longer lets it make (its lease lapsed and
 *    the task went to another execution, or the job settled meanwhile) is answered 409, which the SDK throws
 *    as a `ResonateError` carrying `serverError.code` 409 ({@link lostTask}).
 */
import type { Resonate } from "@resonatehq/sdk/async";
import { AsyncToolsError } from "../errors.ts";

/** The task shape the SDK's heartbeat tracks. */
export interface AcquiredTask {
  id: string;
  version: number;
}

/** The decoded root promise the SDK passes to `executeUntilBlocked`. */
interface RootPromise {
  id: string;
  state: string;
  param?: { data?: { func?: unknown; version?: unknown } };
}

interface CoreInternals {
  onMessage(message: { kind: string; data?: { task?: { id?: string } } }): Promise<unknown>;
  heartbeat: { start(task: AcquiredTask): void; stop(task: AcquiredTask): void };
  executeUntilBlocked(task: AcquiredTask, root: RootPromise, ...rest: unknown[]): Promise<unknown>;
  fulfillTask(
    task: AcquiredTask,
    root: RootPromise,
    done: { kind: "done"; id: string; state: "rejected"; value: unknown; trace: unknown[] },
  ): Promise<void>;
  registry: { get(func: string, version?: number): unknown };
}

/** What the runtime decides about executions the SDK cannot run itself. */
export interface ExecutionHooks {
  /**
   * Called when a pending job names a function version that is not registered. Return the value to fail the
   * job with (its promise's rejection), or `undefined` to leave the job to another process that may have
   * that version.
   */
  unregistered(func: string, version: number): object | undefined;
  /** Called when an execution of `task` threw (the SDK already tried to release it once). */
  failed(task: AcquiredTask, error: unknown): void;
  /** Called when an `execute` message could not be taken on (its acquire failed); `retry` offers it again. */
  undelivered(taskId: string, error: unknown, retry: () => Promise<unknown>): void;
  /**
   * Called when an execution of `taskId` ended suspended (it awaits a promise settled elsewhere: an answer,
   * a durable sleep): the function's frame never returns, so what it holds is let go here.
   */
  suspended(taskId: string): void;
}

const PATCHED = Symbol.for("async-tools.execution-hooks");

/** Makes `resonate` heartbeat every task it executes and fail jobs `hooks` says no process can run. */
export function installExecutionHooks(resonate: Resonate, hooks: ExecutionHooks): void {
  const core = (resonate as unknown as { core?: CoreInternals & { [PATCHED]?: true } }).core;
  if (
    core === undefined ||
    typeof core.executeUntilBlocked !== "function" ||
    typeof core.onMessage !== "function" ||
    typeof core.fulfillTask !== "function" ||
    typeof core.registry?.get !== "function" ||
    typeof core.heartbeat?.start !== "function" ||
    typeof core.heartbeat?.stop !== "function"
  ) {
    throw new AsyncToolsError(
      "SDK_MISMATCH",
      "@resonatehq/sdk changed: Resonate.core.executeUntilBlocked/fulfillTask/heartbeat/registry not found; " +
        "the runtime cannot hold leases. Use the SDK version @async-tools/core pins.",
    );
  }
  if (core[PATCHED]) return;
  const execute = core.executeUntilBlocked.bind(core);
  const { heartbeat } = core;
  core.executeUntilBlocked = async (task, root, ...rest) => {
    const data = root.param?.data;
    if (root.state === "pending" && typeof data?.func === "string") {
      const version = typeof data.version === "number" ? data.version : 1;
      if (core.registry.get(data.func, version) === undefined) {
        const failure = hooks.unregistered(data.func, version);
        if (failure !== undefined) {
          const done = {
            kind: "done",
            id: root.id,
            state: "rejected",
            value: failure,
            trace: [] as unknown[],
          } as const;
          await core.fulfillTask(task, root, done);
          return done;
        }
      }
    }
    heartbeat.start(task);
    try {
      const status = await execute(task, root, ...rest);
      if ((status as { kind?: unknown } | undefined)?.kind === "suspended") hooks.suspended(task.id);
      return status;
    } catch (error) {
      hooks.failed(task, error);
      throw error;
    } finally {
      heartbeat.stop(task);
    }
  };
  const onMessage = core.onMessage.bind(core);
  core.onMessage = async (message) => {
    try {
      return await onMessage(message);
    } catch (error) {
      const taskId = message.data?.task?.id;
      if (message.kind === "execute" && typeof taskId === "string") {
        hooks.undelivered(taskId, error, () => core.onMessage(message));
      }
      throw error;
    }
  };
  core[PATCHED] = true;
}

/**
 * Whether `error` says the execution no longer holds its task (the store answered 409: another execution
 * holds it now, or the job settled): that execution must stand down, the job is not failed.
 */
export function lostTask(error: unknown): boolean {
  const server = (error as { name?: unknown; serverError?: { code?: unknown } } | undefined) ?? {};
  return server.name === "ResonateError" && server.serverError?.code === 409;
}

/**
 * The status of a store answer that refuses an execution's request for good, or `undefined`: the protocol's
 * 400 (malformed) and 422 (unprocessable, e.g. resonate.sql refusing to let a task wait on a promise it counts as
 * internal), which the same request meets at every attempt. Not 404 (the task is gone), 409 ({@link lostTask})
 * or the transport's 4xx (401, 413, 429: configuration or load, which may change).
 */
export function refusedForGood(error: unknown): 400 | 422 | undefined {
  const server = (error as { name?: unknown; serverError?: { code?: unknown } } | undefined) ?? {};
  if (server.name !== "ResonateError") return undefined;
  const code = server.serverError?.code;
  return code === 400 || code === 422 ? code : undefined;
}

interface OptionsBuilderInternals {
  match: (target: string) => string;
  [MEMOIZED]?: true;
}

const MEMOIZED = Symbol.for("async-tools.memoized-targets");
/** Targets remembered per Resonate instance; a program names a handful, so this bound is never reached. */
const MAX_TARGETS = 256;

/**
 * Makes `resonate` resolve each option target (`"default"`, a group name, a URL) to its address once,
 * instead of throwing and catching a `URL` error on every option build.
 */
export function memoizeTargets(resonate: Resonate): void {
  const builder = (resonate as unknown as { optsBuilder?: OptionsBuilderInternals }).optsBuilder;
  if (typeof builder?.match !== "function") {
    throw new AsyncToolsError(
      "SDK_MISMATCH",
      "@resonatehq/sdk changed: Resonate.optsBuilder.match not found. Use the SDK version @async-tools/core pins.",
    );
  }
  if (builder[MEMOIZED]) return;
  const match = builder.match;
  const known = new Map<string, string>();
  builder.match = (target) => {
    const hit = known.get(target);
    if (hit !== undefined) return hit;
    const address = match(target);
    if (known.size < MAX_TARGETS) known.set(target, address);
    return address;
  };
  builder[MEMOIZED] = true;
}

/** What one `task.create` sent by `Resonate.run` found. */
export interface CreateOutcome {
  /** The promise (and job) ID. */
  id: string;
  /**
   * The tags of the promise the store answered with, or `undefined` after a conflict (409: the promise or
   * its task existed). A promise this request made carries the tags it asked for.
   */
  stored: Record<string, string> | undefined;
}

interface TaskCreateRequest {
  data: { action: { data: { id: string; tags?: Record<string, string> } } };
}

interface ResonateCreateInternals {
  taskCreate(
    req: TaskCreateRequest,
  ): Promise<{ promise?: { tags?: Record<string, string> }; task?: unknown }>;
  [OBSERVED]?: true;
}

const OBSERVED = Symbol.for("async-tools.task-create-observed");

/**
 * Calls `observer` with the outcome of every `task.create` that `resonate.run` sends, synchronously between
 * the store's answer and the SDK's next move (executing an acquired task), so the observer can settle
 * per-job state before any execution begins.
 */
export function observeTaskCreate(resonate: Resonate, observer: (outcome: CreateOutcome) => void): void {
  const internals = resonate as unknown as ResonateCreateInternals;
  if (typeof internals.taskCreate !== "function") {
    throw new AsyncToolsError(
      "SDK_MISMATCH",
      "@resonatehq/sdk changed: Resonate.taskCreate not found. Use the SDK version @async-tools/core pins.",
    );
  }
  if (internals[OBSERVED]) return;
  const create = internals.taskCreate.bind(resonate);
  internals.taskCreate = async (req) => {
    const { id } = req.data.action.data;
    const out = await create(req);
    observer({ id, stored: out.task === undefined ? undefined : (out.promise?.tags ?? {}) });
    return out;
  };
  internals[OBSERVED] = true;
}

/** The SDK's JSON encoder (`Codec.encoder`) as {@link speedUpCodec} sees it. */
interface EncoderInternals {
  inf: string;
  negInf: string;
  encode(value: unknown): { headers: Record<string, string>; data: string };
  decode(value: { data?: string } | undefined): unknown;
  [SPED_UP]?: true;
}

const SPED_UP = Symbol.for("async-tools.fast-codec");

/**
 * Makes `codec` (a Resonate `Codec`, or a Resonate instance's) encode and decode through `Buffer` base64,
 * with the same output as the SDK's encoder: the same base64 text for every value, the same value for every
 * text (`Infinity`, `-Infinity`, `Error` and `AggregateError` included).
 */
export function speedUpCodec(codec: unknown): void {
  const encoder = (codec as { encoder?: EncoderInternals } | undefined)?.encoder;
  if (
    encoder === undefined ||
    typeof encoder.encode !== "function" ||
    typeof encoder.decode !== "function" ||
    typeof encoder.inf !== "string" ||
    typeof encoder.negInf !== "string"
  ) {
    throw new AsyncToolsError(
      "SDK_MISMATCH",
      "@resonatehq/sdk changed: Codec.encoder (inf, negInf, encode, decode) not found. Use the SDK version " +
        "@async-tools/core pins.",
    );
  }
  if (encoder[SPED_UP]) return;
  const sdkEncode = encoder.encode.bind(encoder);
  const sdkDecode = encoder.decode.bind(encoder);
  const { inf, negInf } = encoder;
  const replacer = (_key: string, v: unknown): unknown => {
    if (v === Number.POSITIVE_INFINITY) return inf;
    if (v === Number.NEGATIVE_INFINITY) return negInf;
    if (v instanceof AggregateError) {
      return {
        __type: "aggregate_error",
        message: v.message,
        stack: v.stack,
        name: v.name,
        errors: v.errors,
      };
    }
    if (v instanceof Error) return { __type: "error", message: v.message, stack: v.stack, name: v.name };
    return v;
  };
  const reviver = (_key: string, v: unknown): unknown => {
    if (v === inf) return Number.POSITIVE_INFINITY;
    if (v === negInf) return Number.NEGATIVE_INFINITY;
    const tagged = v as {
      __type?: unknown;
      message?: string;
      name?: string;
      stack?: string;
      errors?: unknown[];
    };
    if (tagged?.__type === "aggregate_error") {
      return Object.assign(new AggregateError(tagged.errors as unknown[], tagged.message), tagged);
    }
    if (tagged?.__type === "error") {
      const error = new Error(tagged.message || "Unknown error");
      if (tagged.name) error.name = tagged.name;
      if (tagged.stack) error.stack = tagged.stack;
      return error;
    }
    return v;
  };
  encoder.encode = (value) => {
    if (value === undefined) return sdkEncode(value);
    let json: string | undefined;
    try {
      json = JSON.stringify(value, replacer);
    } catch {
      return sdkEncode(value);
    }
    if (json === undefined) return sdkEncode(value);
    return { headers: {}, data: Buffer.from(json, "utf8").toString("base64") };
  };
  encoder.decode = (value) => {
    const data = value?.data;
    if (!data) return sdkDecode(value);
    try {
      const json = Buffer.from(data, "base64").toString("utf8");
      // Only a marker (`__INF__`, `__NEG_INF__`, `__type`) needs the reviver; plain JSON parses as it is.
      return json.includes("__") ? JSON.parse(json, reviver) : JSON.parse(json);
    } catch {
      return sdkDecode(value);
    }
  };
  encoder[SPED_UP] = true;
}

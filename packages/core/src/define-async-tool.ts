/**
 * The definition of an async tool: its input schema, its durable function, the names of its MCP tools and its
 * policies (retry, timeout, how long `await` may block). A definition holds no state; `createAsyncTools` runs it.
 */
import type { Context } from "@resonatehq/sdk/async";
import type { z } from "zod";
import { AsyncToolsError } from "./errors.ts";
import { sanitizeIdPart } from "./job-id.ts";

/** How a failing step is retried before its job is marked failed. */
export interface RetryOptions {
  /** Attempts in all, the first one included. Default 5. */
  attempts?: number;
  /** Delay before the first retry, in milliseconds. Default 1000. */
  initialDelayMs?: number;
  /** Growth factor of the delay between retries. Default 2. */
  factor?: number;
  /** Longest delay between two attempts, in milliseconds. Default 30000. */
  maxDelayMs?: number;
}

/**
 * What the durable function sees: durable steps, durable sleep, progress reports, and a signal that aborts
 * when the job is cancelled.
 */
export interface JobContext {
  /** The job's ID, as the model sees it. */
  readonly jobId: string;
  /** Aborted when the job is cancelled through the cancel tool (in this process). */
  readonly signal: AbortSignal;
  /**
   * Runs `fn` as a durable step. A step that finished is never run again: after a crash, replay takes its
   * stored result. A step that throws is retried with the tool's retry policy, unless it throws
   * {@link PermanentError}. Its result must be JSON-serializable.
   */
  run<T>(name: string, fn: () => T | Promise<T>): PromiseLike<Awaited<T>>;
  /** Sleeps durably: a restart during the sleep does not start it over. */
  sleep(ms: number): PromiseLike<void>;
  /**
   * Reports progress, shown by probe and in `await`'s progress notifications. Stored durably, so a probe
   * after a restart still shows it. `fraction` is clamped to [0, 1].
   */
  progress(fraction: number, message?: string): void;
  /** The underlying Resonate context, for `rpc`, `promise` and the rest of Resonate's API. */
  readonly resonate: Context;
}

/**
 * Names of the MCP tools a definition is exposed as. `cancel: false` leaves the cancel tool out; `task` names
 * the task-capable tool for clients with MCP Tasks (default: the definition's name), `false` leaves it out.
 */
export interface ToolNames {
  start?: string;
  probe?: string;
  await?: string;
  cancel?: string | false;
  task?: string | false;
}

/** Everything `defineAsyncTool` takes. `I` is the zod input schema, `O` the result of `run`. */
export interface AsyncToolOptions<I extends z.ZodObject, O> {
  /** Durable function name, and the prefix of the tools' default names and of job IDs. `[A-Za-z0-9_.-]`. */
  name: string;
  /** What the work does, for the model. The tools' descriptions are built from it. */
  description: string;
  /** The input, validated before anything starts. Defaults are applied before the job ID is derived. */
  input: I;
  /** The result's schema. Enables `outputSchema` and `structuredContent` on the await tool. */
  output?: z.ZodType<O>;
  /** The durable function. Put side effects and flaky calls in `ctx.run` steps. */
  run: (ctx: JobContext, input: z.output<I>) => Promise<O>;
  /** Tool names. Default `start_<name>`, `probe_<name>`, `await_<name>`, `cancel_<name>`, task tool `<name>`. */
  tools?: ToolNames;
  /** Name of the ID field in tool arguments and results, singular. Default `job_id` (lists: `job_ids`). */
  idField?: string;
  /** Overrides the default job ID (name + hash of the canonical input). Prefixed with `name-`. */
  jobId?: (input: z.output<I>) => string;
  /** Retry policy of steps. Default: 5 attempts, exponential backoff from 1 s. `false`: one attempt. */
  retry?: RetryOptions | false;
  /** A job still running after this long is failed as timed out. Default one hour. */
  timeoutMs?: number;
  /** Bounds of the await tool's blocking, in seconds. Default 45, at most 50 (below common client timeouts). */
  await?: { defaultSeconds?: number; maxSeconds?: number };
  /**
   * Also expose the job as a task-capable tool (named `tools.task`, default `<name>`) for clients that speak
   * MCP Tasks; see docs/tasks.md. Default true.
   */
  tasks?: boolean;
  /** Version of the durable function, for changing it while old jobs still run. Default 1. */
  version?: number;
}

/** A validated definition, ready for {@link AsyncTools.register}. */
export interface AsyncTool<I extends z.ZodObject = z.ZodObject, O = unknown> {
  readonly name: string;
  readonly description: string;
  readonly input: I;
  readonly output: z.ZodType<O> | undefined;
  readonly run: (ctx: JobContext, input: z.output<I>) => Promise<O>;
  readonly toolNames: {
    start: string;
    probe: string;
    await: string;
    cancel: string | false;
    task: string | false;
  };
  readonly idField: string;
  readonly jobId: ((input: z.output<I>) => string) | undefined;
  readonly retry: Required<RetryOptions>;
  readonly timeoutMs: number;
  readonly awaitSeconds: { default: number; max: number };
  readonly tasks: boolean;
  readonly version: number;
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** Field names the start tool adds to the input; an input schema may not use them. */
export const RESERVED_INPUT_FIELDS = ["fresh"] as const;

/**
 * Defines an async tool: one durable function exposed as MCP tools to start, probe, await and cancel jobs.
 *
 * @example
 * ```ts
 * import { defineAsyncTool } from "@async-tools/core";
 * import { z } from "zod";
 *
 * export const slowSquare = defineAsyncTool({
 *   name: "slow_square",
 *   description: "Squares a number, slowly",
 *   input: z.object({ n: z.number() }),
 *   output: z.object({ square: z.number() }),
 *   run: async (ctx, { n }) => {
 *     await ctx.sleep(1_000);
 *     const square = await ctx.run("square", () => n * n);
 *     return { square };
 *   },
 * });
 * ```
 */
export function defineAsyncTool<I extends z.ZodObject, O>(options: AsyncToolOptions<I, O>): AsyncTool<I, O> {
  const { name } = options;
  if (!NAME.test(name)) {
    throw new AsyncToolsError(
      "INVALID_DEFINITION",
      `Async tool name ${JSON.stringify(name)} must be 1-64 characters of [A-Za-z0-9_.-]: it is part of every job ID.`,
    );
  }
  if (typeof options.run !== "function") {
    throw new AsyncToolsError("INVALID_DEFINITION", `Async tool ${name} needs a run(ctx, input) function.`);
  }
  const shape = (options.input as { shape?: Record<string, unknown> }).shape;
  if (shape === undefined) {
    throw new AsyncToolsError(
      "INVALID_DEFINITION",
      `Async tool ${name}: input must be a z.object(...) schema.`,
    );
  }
  for (const reserved of RESERVED_INPUT_FIELDS) {
    if (reserved in shape) {
      throw new AsyncToolsError(
        "INVALID_DEFINITION",
        `Async tool ${name}: the input field ${JSON.stringify(reserved)} is reserved by the start tool; rename it.`,
      );
    }
  }
  const idField = options.idField ?? "job_id";
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,40}$/.test(idField)) {
    throw new AsyncToolsError("INVALID_DEFINITION", `Async tool ${name}: idField must be an identifier.`);
  }
  const maxSeconds = options.await?.maxSeconds ?? 50;
  const defaultSeconds = Math.min(options.await?.defaultSeconds ?? 45, maxSeconds);
  if (!(maxSeconds > 0 && defaultSeconds > 0)) {
    throw new AsyncToolsError(
      "INVALID_DEFINITION",
      `Async tool ${name}: await bounds must be positive seconds.`,
    );
  }
  const retry = options.retry === false ? { attempts: 1 } : (options.retry ?? {});
  const tools = options.tools ?? {};
  const cancel: string | false = tools.cancel === false ? false : (tools.cancel ?? `cancel_${name}`);
  const task: string | false = options.tasks === false || tools.task === false ? false : (tools.task ?? name);
  return Object.freeze({
    name,
    description: options.description,
    input: options.input,
    output: options.output,
    run: options.run,
    toolNames: {
      start: tools.start ?? `start_${name}`,
      probe: tools.probe ?? `probe_${name}`,
      await: tools.await ?? `await_${name}`,
      cancel,
      task,
    },
    idField,
    jobId: options.jobId,
    retry: {
      attempts: Math.max(1, Math.floor(retry.attempts ?? 5)),
      initialDelayMs: retry.initialDelayMs ?? 1000,
      factor: retry.factor ?? 2,
      maxDelayMs: retry.maxDelayMs ?? 30_000,
    },
    timeoutMs: options.timeoutMs ?? 60 * 60 * 1000,
    awaitSeconds: { default: defaultSeconds, max: maxSeconds },
    tasks: task !== false,
    version: options.version ?? 1,
  });
}

/** The job ID a definition gives an input (already validated): `name-<hash>` or `name-<jobId(input)>`. */
export function baseJobIdOf<I extends z.ZodObject>(
  tool: AsyncTool<I, unknown>,
  input: z.output<I>,
  derive: (toolName: string, input: unknown) => string,
): string {
  if (tool.jobId === undefined) return derive(tool.name, input);
  const custom = sanitizeIdPart(String(tool.jobId(input)));
  return `${sanitizeIdPart(tool.name)}-${custom}`;
}

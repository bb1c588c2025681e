/**
 * The definition of an async tool: its input schema, its durable function, the names of its MCP tools and its
 * policies (retry, timeout, concurrency, how long `await` may block). A definition holds no state; the runtime
 * made by `createAsyncTools` runs it.
 */
import type { Context } from "@resonatehq/sdk/async";
import type { z } from "zod";
import { DEFAULTS } from "./defaults.ts";
import { AsyncToolsError } from "./errors.ts";
import { jobIdFor } from "./job-id.ts";
import type { QuestionContext } from "./question-types.ts";

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
 * What the durable function sees: durable steps, durable sleep, progress reports, durable questions to a
 * person or the client (`ask`, `sample`, `roots`), and a signal that aborts when the job is cancelled.
 */
export interface JobContext extends QuestionContext {
  /** The job's ID, as the model sees it. */
  readonly jobId: string;
  /**
   * Aborted when the job is cancelled or times out: at once for a cancel made in this process, within half a
   * second for one made elsewhere (another process on the same store, the CLI, the dashboard). Pass it to
   * `fetch` and whatever else a step waits on; an aborted step is not retried.
   */
  readonly signal: AbortSignal;
  /**
   * Runs `fn` as a durable step. A step that finished is never run again: after a crash, replay takes its
   * stored result. A step that throws is retried with the tool's retry policy, after the delay a
   * {@link RetryableError} asks for, unless it throws {@link PermanentError}. Its result must be
   * JSON-serializable.
   */
  run<T>(name: string, fn: () => T | Promise<T>): Promise<Awaited<T>>;
  /** Sleeps durably: a restart during the sleep does not start it over. */
  sleep(ms: number): Promise<void>;
  /**
   * Reports progress, shown by probe and in `await`'s progress notifications. Stored durably, so a probe
   * after a restart still shows it. `fraction` is clamped to [0, 1].
   */
  progress(fraction: number, message?: string): void;
  /**
   * Escape hatch: the Resonate context of this job (`@resonatehq/sdk` 0.11.5, pinned exactly), for `rpc`,
   * `promise` and the rest of Resonate's API. Code that uses it is tied to that SDK version; everything else
   * in this interface is ours and stays stable across Resonate upgrades.
   */
  readonly resonate: Context;
}

/**
 * Names of the MCP tools a definition is exposed as. `cancel: false` leaves the cancel tool out. `task` names
 * the task-capable tool for clients with MCP Tasks (default: the definition's name); `false` leaves it out.
 * With shared job tools (`jobTools: "shared"` when registering), `probe`, `await` and `cancel` are unused.
 */
export interface ToolNames {
  start?: string;
  probe?: string;
  await?: string;
  cancel?: string | false;
  task?: string | false;
  /** The tool that answers a job's questions (definitions with `asks: true`). Default `respond_<name>`. */
  respond?: string;
}

/** Whether a definition's task tool also answers plain calls (`optional`) or only task calls (`required`). */
export type TaskSupport = "optional" | "required";

/** What a {@link ResultView.render} function gets besides the result, in the job view's browser frame. */
export interface RenderKit {
  /** Escapes text (or any value, turned to text) for use in HTML. */
  escape(value: unknown): string;
  /** The host's theme, so a chart can pick its colours. */
  theme: "light" | "dark";
}

/**
 * How the job view of MCP Apps hosts shows a completed job's result (see docs/apps.md). `render` runs in the
 * view's browser frame, not in the server: it is sent there as its source text, so it must not use anything
 * from around it (no imports, no variables from the enclosing scope); everything it needs is in `result` and
 * `kit`. It returns HTML, which the view shows above the raw JSON.
 *
 * @example
 * ```ts
 * const view: ResultView<{ square: number }> = {
 *   render: (result, kit) => `<p>The square is <strong>${kit.escape(result.square)}</strong>.</p>`,
 * };
 * ```
 */
export interface ResultView<O> {
  render(result: O, kit: RenderKit): string;
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
  toolNames?: ToolNames;
  /**
   * How the task tool may be called (see docs/tasks.md). `optional` (default): as an MCP task, or plainly, when
   * it waits for the job like the await tool. `required`: only as a task; a client that cannot make one gets
   * the protocol's error for it and uses the start and await tools instead.
   */
  taskSupport?: TaskSupport;
  /**
   * For a job whose first act is a question (`ctx.ask`, docs/tasks.md): a Tasks client's call (2026-07-28)
   * waits, up to the await bound, for the job to ask or finish, asks its questions in the call itself (an
   * `input_required` result), and gets the task once they are answered, instead of a task at once. Default false.
   */
  inputBeforeTask?: boolean;
  /** Name of the ID field in tool arguments and results, singular. Default `job_id` (lists: `job_ids`). */
  idField?: string;
  /** Overrides the default job ID (name + hash of the canonical input). Prefixed with `name-`. */
  jobId?: (input: z.output<I>) => string;
  /** Retry policy of steps. Default: 5 attempts, exponential backoff from 1 s. `false`: one attempt. */
  retry?: RetryOptions | false;
  /** A job still running after this long (ms) is failed as timed out. Default one hour. */
  timeoutMs?: number;
  /**
   * Bounds of the await tool's blocking, in ms. `defaultMs` applies when a call does not say (default 45 s,
   * or `ASYNC_TOOLS_AWAIT_SECONDS`); `maxMs` caps what a call may ask (default 50 s).
   */
  await?: { defaultMs?: number; maxMs?: number };
  /** Jobs of this tool that run at once in one process; the rest wait as `queued`. Default 10. */
  concurrency?: number;
  /**
   * Version of the durable function. Register several versions of one name to let old jobs finish on the old
   * code; new jobs run on the highest. See docs/versioning.md. Default 1.
   */
  version?: number;
  /** How the job view (MCP Apps hosts, `registerTools(server, runtime, { view: true })`) shows the result. */
  view?: ResultView<O>;
  /**
   * Set when `run` asks questions (`ctx.ask`, `ctx.sample`, `ctx.roots`): the definition then also gets a
   * respond tool (`respond_<name>`), through which a model relays the answers of a client that cannot be
   * asked directly. Questions work without it too (clients with elicitation, Tasks, the CLI, the dashboard).
   */
  asks?: boolean;
}

/** A validated definition, ready for `createAsyncTools({ tools })`. */
export interface AsyncTool<I extends z.ZodObject = z.ZodObject, O = unknown> {
  readonly name: string;
  readonly description: string;
  readonly input: I;
  readonly output: z.ZodType<O> | undefined;
  readonly run: (ctx: JobContext, input: z.output<I>) => Promise<O>;
  readonly toolNames: {
    readonly start: string;
    readonly probe: string;
    readonly await: string;
    readonly cancel: string | false;
    readonly task: string | false;
    /** `false` when the definition does not ask (`asks` unset). */
    readonly respond: string | false;
  };
  readonly taskSupport: TaskSupport;
  readonly inputBeforeTask: boolean;
  readonly idField: string;
  readonly jobId: ((input: z.output<I>) => string) | undefined;
  readonly retry: Readonly<Required<RetryOptions>>;
  readonly timeoutMs: number;
  /** `defaultMs` is `undefined` when the definition leaves it to `ASYNC_TOOLS_AWAIT_SECONDS` or 45 s. */
  readonly await: { readonly defaultMs: number | undefined; readonly maxMs: number };
  readonly concurrency: number;
  readonly version: number;
  /** The result renderer of the job view, with its source as the view receives it. */
  readonly view: (Readonly<ResultView<O>> & { readonly source: string }) | undefined;
}

/** Any definition, whatever its input and output types. */
// biome-ignore lint/suspicious/noExplicitAny: the run function's input is contravariant; any definition fits.
export type AnyAsyncTool = AsyncTool<any, any>;

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
  const invalid = (why: string) => new AsyncToolsError("INVALID_DEFINITION", `Async tool ${name}: ${why}`);
  if (!NAME.test(name)) {
    throw new AsyncToolsError(
      "INVALID_DEFINITION",
      `Async tool name ${JSON.stringify(name)} must be 1-64 characters of [A-Za-z0-9_.-]: it is part of every job ID.`,
    );
  }
  if (typeof options.run !== "function") throw invalid("it needs a run(ctx, input) function.");
  const shape = (options.input as { shape?: Record<string, unknown> }).shape;
  if (shape === undefined) throw invalid("input must be a z.object(...) schema.");
  for (const reserved of RESERVED_INPUT_FIELDS) {
    if (reserved in shape) {
      throw invalid(`the input field ${JSON.stringify(reserved)} is reserved by the start tool; rename it.`);
    }
  }
  const idField = options.idField ?? "job_id";
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,40}$/.test(idField)) throw invalid("idField must be an identifier.");
  const maxMs = options.await?.maxMs ?? DEFAULTS.awaitMaxMs;
  const defaultMs = options.await?.defaultMs;
  if (!(maxMs > 0) || (defaultMs !== undefined && !(defaultMs >= 0))) {
    throw invalid("await bounds must be positive milliseconds.");
  }
  const concurrency = options.concurrency ?? DEFAULTS.concurrency;
  if (!(Number.isInteger(concurrency) && concurrency > 0))
    throw invalid("concurrency must be a positive integer.");
  const version = options.version ?? 1;
  if (!(Number.isInteger(version) && version > 0)) throw invalid("version must be a positive integer.");
  const retry = options.retry === false ? { attempts: 1 } : (options.retry ?? {});
  const names = options.toolNames ?? {};
  const taskSupport = options.taskSupport ?? "optional";
  if (taskSupport !== "optional" && taskSupport !== "required") {
    throw invalid('taskSupport must be "optional" or "required".');
  }
  const render = options.view?.render;
  if (render !== undefined && typeof render !== "function") throw invalid("view.render must be a function.");
  const view =
    render === undefined ? undefined : Object.freeze({ render, source: functionSource(render, invalid) });
  return Object.freeze({
    name,
    description: options.description,
    input: options.input,
    output: options.output,
    run: options.run,
    toolNames: Object.freeze({
      start: names.start ?? `start_${name}`,
      probe: names.probe ?? `probe_${name}`,
      await: names.await ?? `await_${name}`,
      cancel: names.cancel === false ? false : (names.cancel ?? `cancel_${name}`),
      task: names.task === false ? false : (names.task ?? name),
      respond: options.asks === true ? (names.respond ?? `respond_${name}`) : false,
    }),
    taskSupport,
    inputBeforeTask: options.inputBeforeTask === true,
    idField,
    jobId: options.jobId,
    retry: Object.freeze({
      attempts: Math.max(1, Math.floor(retry.attempts ?? DEFAULTS.retryAttempts)),
      initialDelayMs: retry.initialDelayMs ?? DEFAULTS.retryInitialDelayMs,
      factor: retry.factor ?? DEFAULTS.retryFactor,
      maxDelayMs: retry.maxDelayMs ?? DEFAULTS.retryMaxDelayMs,
    }),
    timeoutMs: options.timeoutMs ?? DEFAULTS.jobTimeoutMs,
    await: Object.freeze({
      defaultMs: defaultMs === undefined ? undefined : Math.min(defaultMs, maxMs),
      maxMs,
    }),
    concurrency,
    version,
    view,
  });
}

/**
 * The source of `fn` as an expression the job view can evaluate: `fn.toString()` as it is for a function or
 * arrow, and wrapped back into an object for a method (`render(r) {…}`). Only checked for syntax here (the
 * Function constructor compiles without running); a native or bound function has no source and is refused.
 */
function functionSource(fn: (...args: never[]) => unknown, invalid: (why: string) => Error): string {
  const text = fn.toString();
  for (const candidate of [`(${text})`, `({ ${text} })[${JSON.stringify(fn.name)}]`]) {
    try {
      new Function(`return ${candidate};`);
      return candidate;
    } catch {}
  }
  throw invalid("view.render has no source the job view can run; write it as a plain function.");
}

/**
 * The job ID `input` gets from `tool` (validated and defaulted first): what `start` would return for it, so a
 * caller can probe or await a job without starting it.
 *
 * @example
 * ```ts
 * const id = jobIdOf(slowSquare, { n: 7 }); // "slow_square-…", stable across processes and versions
 * ```
 */
export function jobIdOf<I extends z.ZodObject>(tool: AsyncTool<I, unknown>, input: z.input<I>): string {
  return jobIdFor(tool, tool.input.parse(input));
}

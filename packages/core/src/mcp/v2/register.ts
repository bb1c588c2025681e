/**
 * The v2 face (`@modelcontextprotocol/server`, protocols 2025-11-25 and 2026-07-28): registers a runtime's job
 * tools on a v2 `McpServer` from the same specs as the v1 face, so both give the same tools, IDs, errors and
 * results; and serves MCP Tasks on the same jobs through each definition's task tool, as the 2026-07-28
 * extension and as 2025-11-25 `tasks/*`, each to the clients of its era.
 */
import type {
  CallToolResult,
  CreateMessageRequest,
  ElicitRequestFormParams,
  McpServer,
  ServerContext,
} from "@modelcontextprotocol/server";
import { ProtocolError, ProtocolErrorCode } from "@modelcontextprotocol/server";
import { z } from "zod";
import type { AnyAsyncTool } from "../../define.ts";
import type { CallerScope } from "../../runtime/job.ts";
import type { JobEngine } from "../../runtime/job-engine.ts";
import { type AsyncTools, internalsOf } from "../../runtime/runtime.ts";
import { askWhileIdle, type IdleSession } from "../client-push.ts";
import { askClientWith } from "../client-questions.ts";
import { type JobToolsOptions, jobToolSpecs } from "../job-tools.ts";
import { principalOf } from "../principal.ts";
import { QuestionClaims } from "../question-claims.ts";
import { callTool } from "../telemetry.ts";
import { plainTaskCallError, toolCallParamsProblem } from "../text.ts";
import {
  type CallContext,
  type CallRequest,
  type ProgressUpdate,
  type ToolSpec,
  toolConfigOf,
} from "../tools/spec.ts";
import { taskToolSpec } from "../tools/task.ts";
import { freshField } from "../wire.ts";
import { InputRounds, type RoundCall, type RoundTool } from "./input-rounds.ts";
import { LEGACY_TASKS_CAPABILITY, LegacyTasks } from "./legacy-tasks.ts";
import { requestStatesOf } from "./request-state.ts";
import { type RawHandler, wrapRequestHandler } from "./sdk-internals.ts";
import {
  ExtensionTasks,
  isModernRequest,
  missingTasksCapability,
  requestSpeaksTasks,
  TASKS_EXTENSION,
} from "./tasks-extension.ts";
import { type JobViewOptions, registerJobView } from "./view/job-view.ts";

/** How {@link registerTools} lays the tools out. */
export interface RegisterToolsOptions extends JobToolsOptions {
  /**
   * Serve MCP Tasks on the definitions' task tools: the 2026-07-28 extension (`io.modelcontextprotocol/tasks`)
   * and 2025-11-25 `tasks/*`. Default true; `false` registers only the start, probe, await and cancel tools.
   */
  tasks?: boolean;
  /**
   * Show jobs in the job view of hosts with MCP Apps (docs/apps.md): the start and task tools name a `ui://`
   * page that follows the job live, with app-only tools to read, cancel and retry it. Clients without MCP
   * Apps see the tools as without it. Default false.
   */
  view?: boolean | JobViewOptions;
}

/**
 * Exposes the runtime's async tools on a v2 `server`: for each definition a start tool, and probe, await
 * and cancel tools (per definition, or shared with `jobTools: "shared"`), exactly as the v1 face does; and
 * a task tool per definition (e.g. `build_report`) for clients that speak MCP Tasks. Call it once per
 * McpServer, before it connects (for `serveStdio` or `createMcpHandler`, inside the factory). Registering
 * starts nothing: the runtime already runs and recovers jobs.
 *
 * The task tool is listed to every client (see docs/tasks.md). Called with the extension (2026-07-28), it
 * answers at once with `resultType: "task"` (task ID = job ID) and the client follows it with `tasks/get`;
 * called task-augmented (2025-11-25), it answers with `CreateTaskResult`. Called plainly, it waits for the job
 * like the await tool and returns the result, or a tool error that names the job to await (or, for a
 * definition with `taskSupport: "required"`, the era's error); on 2026-07-28, a job that asks gets the call
 * answered `input_required` with its questions, and the retry with the answers resumes it. A task that asks
 * is `input_required` on `tasks/get`, answered with `tasks/update`. The start tool never answers with a
 * task, so a Tasks-capable host can still hand a model the start/await pair.
 *
 * @example
 * ```ts
 * import { McpServer } from "@modelcontextprotocol/server";
 * import { registerTools, serveStdio } from "@async-tools/core/mcp-v2";
 *
 * serveStdio(
 *   (runtime) => {
 *     const server = new McpServer({ name: "reports", version: "1.0.0" });
 *     registerTools(server, runtime); // start_build_report, probe_…, await_…, cancel_…; task tool build_report
 *     return server;
 *   },
 *   { runtime: { name: "reports", tools: [buildReport] } },
 * );
 * ```
 */
export function registerTools(
  server: McpServer,
  runtime: AsyncTools,
  options: RegisterToolsOptions = {},
): void {
  const { engine, promises, retentionMs, assertOpen } = internalsOf(runtime);
  assertOpen();
  const definitions = engine.definitions();
  const { specs, namesOf } = jobToolSpecs(engine, definitions, options);
  const idle = askWhileIdleOn(server, engine, new QuestionClaims(engine.promises));
  for (const spec of specs) registerSpec(server, spec, idle);
  refuseNamelessCalls(server);
  if (options.view !== undefined && options.view !== false) {
    const view = options.view === true ? {} : options.view;
    registerJobView(server, runtime, definitions, namesOf, { ...view, tasks: options.tasks !== false });
  }

  const withTasks = options.tasks === false ? [] : definitions.filter((d) => d.toolNames.task !== false);
  if (withTasks.length === 0) return;
  // The start tool of each definition, which a failed task's result points to.
  const callNames = new Map<string, string>();
  const taskTools = new Map<string, TaskTool>();
  for (const tool of withTasks) {
    const names = namesOf.get(tool.name);
    const spec = names === undefined ? undefined : taskToolSpec(tool, engine, names);
    if (names === undefined || spec === undefined) continue;
    callNames.set(tool.name, names.start);
    registerSpec(server, spec, idle);
    taskTools.set(spec.name, {
      tool,
      plainCallError: plainTaskCallError(spec.name, names),
      round: { name: spec.name, tool, names },
    });
  }
  const extension = new ExtensionTasks(engine, callNames, { retentionMs });
  extensionTasks.set(server, extension);
  const legacy = new LegacyTasks(engine, callNames, { retentionMs });
  const rounds = new InputRounds(engine, () => requestStatesOf(promises));
  serveTaskMethods(server, extension, legacy);
  routeTaskCalls(server, { extension, legacy, rounds }, taskTools);
}

/** The Tasks extension each server serves, for the transports that serve its `subscriptions/listen`. */
const extensionTasks = new WeakMap<McpServer, ExtensionTasks>();

/** The Tasks extension `registerTools` set up on `server`, if it did (a definition with a task tool). */
export function extensionTasksOf(server: McpServer): ExtensionTasks | undefined {
  return extensionTasks.get(server);
}

/** A `tools/call` that names no tool gets a plain invalid-params error, not the SDK's schema dump. */
function refuseNamelessCalls(server: McpServer): void {
  wrapRequestHandler(server, "tools/call", (original: RawHandler) => async (request, ctx) => {
    const problem = toolCallParamsProblem(request.params);
    if (problem !== undefined) throw new ProtocolError(ProtocolErrorCode.InvalidParams, problem);
    return original(request, ctx);
  });
}

/**
 * A 2025-11-25 client that can be asked (a legacy-era connection: stdio, or an HTTP session with its GET
 * stream open) gets its jobs' questions as requests, while it waits in a call and while it waits on nothing
 * (see `client-push.ts`). The SDK's push APIs (`elicitInput`, `createMessage`, `listRoots`) serve that era
 * only; a 2026-07-28 client is asked in-band instead (`input-rounds.ts`, the Tasks extension).
 */
function askWhileIdleOn(server: McpServer, engine: JobEngine, claims: QuestionClaims): IdleSession {
  let principal: string | undefined;
  wrapRequestHandler(server, "initialize", (original: RawHandler) => async (request, ctx) => {
    principal = principalOf(ctx.http?.authInfo);
    return original(request, ctx);
  });
  const sdk = server.server;
  return askWhileIdle(engine, claims, sdk, {
    principal: () => principal,
    send: () =>
      askClientWith(sdk.getClientCapabilities(), {
        elicit: (params, options) => sdk.elicitInput(params as ElicitRequestFormParams, options),
        sample: (params, options) =>
          sdk.createMessage(params as CreateMessageRequest["params"], options) as Promise<
            Record<string, unknown>
          >,
        roots: (options) => sdk.listRoots(undefined, options),
      }),
  });
}

/** Registers one spec as a v2 tool; the handler's context comes from the SDK's `ctx.mcpReq`. */
function registerSpec(server: McpServer, spec: ToolSpec, idle: IdleSession): void {
  server.registerTool(
    spec.name,
    toolConfigOf(spec),
    async (args: Record<string, unknown>, ctx: ServerContext) => {
      const request: CallRequest = { id: ctx.mcpReq.id, http: ctx.http !== undefined };
      if (ctx.sessionId !== undefined) request.sessionId = ctx.sessionId;
      if (ctx.mcpReq._meta !== undefined) request.meta = ctx.mcpReq._meta;
      const call: CallContext = { signal: ctx.mcpReq.signal, request };
      const principal = principalOf(ctx.http?.authInfo);
      if (principal !== undefined) call.principal = principal;
      const progress = progressOf(ctx);
      if (progress !== undefined) call.progress = progress;
      const asker = isModernRequest(ctx) ? undefined : idle.askerFor(principal);
      if (asker !== undefined) call.asker = asker;
      return (await callTool(spec, args, call)) as CallToolResult;
    },
  );
}

/** Sends progress notifications for the request of `ctx`, when the client asked for them. */
function progressOf(ctx: ServerContext): ((update: ProgressUpdate) => void) | undefined {
  const token = ctx.mcpReq._meta?.progressToken;
  if (token === undefined) return undefined;
  return (update) => {
    void ctx.mcpReq
      .notify({ method: "notifications/progress", params: { progressToken: token, ...update } })
      .catch(() => undefined);
  };
}

/**
 * A task tool: its definition, the error a plain call of it gets when the definition requires a task, and
 * what its multi-round-trip calls need.
 */
interface TaskTool {
  tool: AnyAsyncTool;
  plainCallError: string;
  round: RoundTool;
}

/** What serves the calls of task tools: the Tasks of each era, and the rounds of questions (2026-07-28). */
interface TaskServices {
  extension: ExtensionTasks;
  legacy: LegacyTasks;
  rounds: InputRounds;
}

/**
 * A task tool is listed to every client. To a 2025-11-25 client with its definition's `execution.taskSupport`
 * (a client's capabilities cannot say it makes task-augmented calls: that era defines no such field). To a
 * 2026-07-28 request, which has no such field, as a plain tool; one that requires a task only to requests that
 * declare the extension. A `tools/call` of a task tool becomes a task when the request asks for one in its
 * era's way (`params.task`, or the extension in the request's client capabilities); a plain call waits like
 * the await tool, or, when the definition requires a task, gets the era's error: -32601 (2025-11-25) or
 * -32021 naming the extension (2026-07-28). On 2026-07-28, calls take part in rounds of questions
 * ({@link InputRounds}): a plain call always, a task call when it carries answers or its definition has
 * `inputBeforeTask`. Input the tool rejects goes to the SDK's own handler, which answers it as any bad input
 * (an `isError` result).
 */
function routeTaskCalls(server: McpServer, services: TaskServices, taskTools: Map<string, TaskTool>): void {
  const { extension, legacy, rounds } = services;
  wrapRequestHandler(server, "initialize", (original: RawHandler) => async (request, ctx) => {
    const result = (await original(request, ctx)) as { capabilities: Record<string, unknown> };
    return { ...result, capabilities: { ...result.capabilities, tasks: LEGACY_TASKS_CAPABILITY } };
  });
  wrapRequestHandler(server, "tools/list", (original: RawHandler) => async (request, ctx) => {
    const result = (await original(request, ctx)) as { tools: { name: string }[] };
    if (!isModernRequest(ctx)) {
      const support = (name: string) => taskTools.get(name)?.tool.taskSupport;
      return {
        ...result,
        tools: result.tools.map((tool) => {
          const taskSupport = support(tool.name);
          return taskSupport === undefined ? tool : { ...tool, execution: { taskSupport } };
        }),
      };
    }
    if (requestSpeaksTasks(ctx)) return result;
    const onlyTasks = (name: string) => taskTools.get(name)?.tool.taskSupport === "required";
    return { ...result, tools: result.tools.filter((tool) => !onlyTasks(tool.name)) };
  });
  wrapRequestHandler(server, "tools/call", (original: RawHandler) => async (request, ctx) => {
    const name = request.params?.name;
    const taskTool = typeof name === "string" ? taskTools.get(name) : undefined;
    if (taskTool === undefined) return original(request, ctx);
    const { tool } = taskTool;
    const modern = isModernRequest(ctx);
    const asTask = modern ? requestSpeaksTasks(ctx) : request.params?.task !== undefined;
    if (!asTask && tool.taskSupport === "required") {
      if (!modern) throw new ProtocolError(ProtocolErrorCode.MethodNotFound, taskTool.plainCallError);
      throw missingTasksCapability(taskTool.plainCallError);
    }
    if (!asTask && !modern) return original(request, ctx);
    const schema = (tool.input as z.ZodObject).extend({ fresh: freshField });
    const parsed = schema.safeParse(request.params?.arguments ?? {});
    if (!parsed.success) return original(request, ctx);
    const { fresh, ...input } = parsed.data as Record<string, unknown>;
    const caller = callerOfContext(ctx);
    if (!modern) return legacy.create(tool, input, fresh === true, caller);
    const progress = progressOf(ctx);
    const call: RoundCall = {
      target: taskTool.round,
      input,
      fresh: fresh === true,
      caller,
      ...(progress === undefined ? {} : { progress }),
    };
    // A plain 2026-07-28 call asks the job's questions in the call itself (multi round-trip requests).
    if (!asTask) return rounds.plainCall(call, ctx);
    const inRounds =
      tool.inputBeforeTask === true ||
      ctx.mcpReq.requestState() !== undefined ||
      ctx.mcpReq.inputResponses !== undefined;
    if (inRounds) return rounds.taskCall(call, ctx, (snapshot) => extension.created(snapshot));
    return extension.create(tool, input, fresh === true, caller);
  });
}

const taskIdParams = z.object({ taskId: z.string() });

/** The caller of a request: the principal its auth info names (HTTP with auth), else none. */
function callerOfContext(ctx: ServerContext): CallerScope {
  const principal = principalOf(ctx.http?.authInfo);
  return principal === undefined ? {} : { principal };
}

/**
 * Serves the task methods of both eras and advertises the extension. `tasks/get` and `tasks/cancel` exist in
 * both, with other shapes: each request is answered in its own era's (2026-07-28 requests carry the
 * envelope). `tasks/update` is the extension's only; `tasks/result` and `tasks/list` are 2025-11-25's only,
 * and the SDK itself answers them "method not found" on a 2026-07-28 connection.
 */
function serveTaskMethods(server: McpServer, extension: ExtensionTasks, legacy: LegacyTasks): void {
  server.server.registerCapabilities({ extensions: { [TASKS_EXTENSION]: {} } });
  const notFound = () =>
    Promise.reject(new ProtocolError(ProtocolErrorCode.MethodNotFound, "Method not found"));
  type Answer<P> = (params: P, caller: CallerScope, ctx: ServerContext) => Promise<object>;
  // The extension's methods answer only requests that declare it (SEP-2663: -32021 to any other).
  const byEra =
    <P>(modern: Answer<P>, old: Answer<P>) =>
    async (params: P, ctx: ServerContext) => {
      const modernRequest = isModernRequest(ctx);
      if (modernRequest && modern !== notFound && !requestSpeaksTasks(ctx)) throw missingTasksCapability();
      return (await (modernRequest ? modern : old)(params, callerOfContext(ctx), ctx)) as Record<
        string,
        unknown
      >;
    };
  server.server.setRequestHandler(
    "tasks/get",
    { params: taskIdParams },
    byEra(
      ({ taskId }, caller) => extension.get(taskId, caller),
      ({ taskId }, caller) => legacy.get(taskId, caller),
    ),
  );
  server.server.setRequestHandler(
    "tasks/cancel",
    { params: taskIdParams },
    byEra(
      ({ taskId }, caller) => extension.cancel(taskId, caller),
      ({ taskId }, caller) => legacy.cancel(taskId, caller),
    ),
  );
  server.server.setRequestHandler(
    "tasks/update",
    { params: taskIdParams.extend({ inputResponses: z.record(z.string(), z.unknown()).optional() }) },
    byEra(
      // The SDK lifts a request's `inputResponses` out of its params into `ctx.mcpReq` (SEP-2322).
      ({ taskId, inputResponses }, caller, ctx) =>
        extension.update(taskId, ctx.mcpReq.inputResponses ?? inputResponses ?? {}, caller),
      notFound,
    ),
  );
  server.server.setRequestHandler(
    "tasks/result",
    { params: taskIdParams },
    byEra(notFound, ({ taskId }, caller, ctx) => legacy.result(taskId, ctx.mcpReq.signal, caller)),
  );
  server.server.setRequestHandler(
    "tasks/list",
    { params: z.object({ cursor: z.string().optional() }) },
    byEra(notFound, ({ cursor }, caller) => legacy.list(cursor, caller)),
  );
}

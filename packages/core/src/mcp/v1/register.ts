/**
 * The v1 face (`@modelcontextprotocol/sdk`, protocol 2025-11-25): registers a runtime's job tools on an
 * `McpServer`, and its task tools when the server was built with {@link serverOptions}.
 */
import type { TaskStore } from "@modelcontextprotocol/sdk/experimental/tasks";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import {
  type CallToolResult,
  type ClientCapabilities,
  type CreateMessageRequestParams,
  CreateMessageResultSchema,
  type ElicitRequestFormParams,
  ElicitResultSchema,
  ErrorCode,
  ListRootsResultSchema,
  McpError,
  type ServerCapabilities,
  type ServerNotification,
  type ServerRequest,
} from "@modelcontextprotocol/sdk/types.js";
import { log } from "../../internal/log.ts";
import type { JobEngine } from "../../runtime/job-engine.ts";
import { type AsyncTools, internalsOf } from "../../runtime/runtime.ts";
import { askWhileIdle, type IdleSession } from "../client-push.ts";
import { type AskClient, askClientWith, ClientQuestions } from "../client-questions.ts";
import { type JobToolsOptions, jobToolSpecs } from "../job-tools.ts";
import { principalOf, runAsCaller } from "../principal.ts";
import { QuestionClaims } from "../question-claims.ts";
import { callTool } from "../telemetry.ts";
import { plainTaskCallError, toolCallParamsProblem } from "../text.ts";
import { type CallContext, type CallRequest, type ToolSpec, toolConfigOf } from "../tools/spec.ts";
import { taskToolSpec } from "../tools/task.ts";
import { DurableTaskStore } from "./durable-task-store.ts";
import { taskStoreOf, wrapRequestHandler } from "./sdk-internals.ts";
import { registerTaskTool, TASKS_CAPABILITY } from "./task-tool.ts";

/** How {@link registerTools} lays the tools out. */
export type RegisterToolsOptions = JobToolsOptions;

/**
 * The part of the McpServer's options that turns on native MCP Tasks over the jobs: spread it into
 * `new McpServer(info, { ...serverOptions(runtime) })`. Merge `capabilities` yourself if you pass your own.
 */
export interface AsyncToolsServerOptions {
  /** The task store over the runtime's durable jobs. */
  taskStore: TaskStore;
  /** The `tasks` capability: list, cancel, and task-augmented `tools/call`. */
  capabilities: ServerCapabilities;
}

const taskStores = new WeakMap<AsyncTools, DurableTaskStore>();

function taskStoreFor(runtime: AsyncTools): DurableTaskStore {
  let store = taskStores.get(runtime);
  if (store === undefined) {
    const { engine, retentionMs } = internalsOf(runtime);
    store = new DurableTaskStore(engine, { retentionMs });
    taskStores.set(runtime, store);
  }
  return store;
}

/**
 * The McpServer options that turn on native MCP Tasks (spec 2025-11-25) for the tools registered on it: a task
 * store over the runtime's jobs (task ID = job ID; a task survives a restart like its job) and the `tasks`
 * capability.
 *
 * @example
 * ```ts
 * const server = new McpServer({ name: "reports", version: "1.0.0" }, { ...serverOptions(runtime) });
 * registerTools(server, runtime);
 * ```
 */
export function serverOptions(runtime: AsyncTools): AsyncToolsServerOptions {
  return { taskStore: taskStoreFor(runtime), capabilities: { tasks: TASKS_CAPABILITY } };
}

/**
 * Exposes the runtime's async tools on `server`: for each definition a start tool, and probe, await and
 * cancel tools (per definition, or shared with `jobTools: "shared"`); and, when the server was built with
 * {@link serverOptions}, a task tool per definition, listed to every client with the definition's
 * `execution.taskSupport`: a task-augmented call gets a task, a plain one waits like the await tool. Registering
 * starts nothing: the runtime already runs and recovers jobs.
 *
 * @example
 * ```ts
 * const runtime = await createAsyncTools({ name: "reports", tools: [buildReport] });
 * const server = new McpServer({ name: "reports", version: "1.0.0" }, { ...serverOptions(runtime) });
 * registerTools(server, runtime); // start_build_report, probe_build_report, await_build_report, cancel_build_report
 * await server.connect(createStdioTransport({ runtime }));
 * ```
 */
export function registerTools(
  server: McpServer,
  runtime: AsyncTools,
  options: RegisterToolsOptions = {},
): void {
  const { engine, assertOpen } = internalsOf(runtime);
  assertOpen();
  const definitions = engine.definitions();
  const { specs, namesOf } = jobToolSpecs(engine, definitions, options);
  const claims = new QuestionClaims(engine.promises);
  const asking: Asking = { engine, claims, server, idle: askWhileIdleOn(server, engine, claims) };
  for (const spec of specs) {
    server.registerTool(
      spec.name,
      toolConfigOf(spec),
      async (args: Record<string, unknown>, extra) =>
        (await callTool(spec, args, callContextOf(extra, asking))) as CallToolResult,
    );
  }

  refuseNamelessCalls(server);

  const withTasks = definitions.filter((d) => d.toolNames.task !== false);
  if (withTasks.length === 0) return;
  const store = taskStoreFor(runtime);
  if (taskStoreOf(server) !== store) {
    log("warn", "task tools left out: build the McpServer with { ...serverOptions(runtime) } to add them", {
      tools: withTasks.map((d) => d.name).join(","),
    });
    return;
  }
  // Plain calls of the task tools, by name: the spec that answers them, or the error when a task is required.
  const plainCalls = new Map<string, { spec: ToolSpec; required?: string }>();
  for (const tool of withTasks) {
    const names = namesOf.get(tool.name);
    const spec = names === undefined ? undefined : taskToolSpec(tool, engine, names);
    if (names === undefined || spec === undefined) continue;
    store.callNames.set(tool.name, names.start);
    registerTaskTool(server, tool, spec, engine);
    plainCalls.set(spec.name, {
      spec,
      ...(tool.taskSupport === "required" ? { required: plainTaskCallError(spec.name, names) } : {}),
    });
  }
  routePlainTaskCalls(asking, plainCalls);
  bindTasksToCaller(server);
}

/** What the SDK hands a request handler besides the arguments. */
type RequestExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/**
 * What asking the client needs: the engine, the store's claims on questions, the server of the session, and
 * the session's asking while idle.
 */
interface Asking {
  engine: JobEngine;
  claims: QuestionClaims;
  server: McpServer;
  idle: IdleSession;
}

/**
 * Once a client that can be asked has initialized, its principal's jobs are followed and their questions sent
 * to it while the session is open, even when it waits on nothing (see `client-push.ts`).
 */
function askWhileIdleOn(server: McpServer, engine: JobEngine, claims: QuestionClaims): IdleSession {
  let principal: string | undefined;
  wrapRequestHandler(server, "initialize", (original) => async (request, extra) => {
    principal = principalOf((extra as RequestExtra | undefined)?.authInfo);
    return original(request, extra);
  });
  return askWhileIdle(engine, claims, server.server, {
    principal: () => principal,
    send: () =>
      clientAsker(
        (request, schema, options) => server.server.request(request, schema, options),
        server.server.getClientCapabilities(),
      ),
  });
}

function callContextOf(extra: RequestExtra, asking: Asking): CallContext {
  const token = extra._meta?.progressToken;
  const ctx: CallContext = { signal: extra.signal, request: requestOf(extra) };
  const principal = principalOf(extra.authInfo);
  if (principal !== undefined) ctx.principal = principal;
  const asker = askerOf(extra, asking, principal);
  if (asker !== undefined) ctx.asker = asker;
  if (token !== undefined) {
    ctx.progress = (update) => {
      void extra
        .sendNotification({ method: "notifications/progress", params: { progressToken: token, ...update } })
        .catch(() => undefined);
    };
  }
  return ctx;
}

/**
 * Who asks the client of a call its jobs' questions: the session's asker when the server can send it requests
 * at any time (so the call and the idle session never ask twice), else one that sends them on the call's own
 * response stream.
 */
function askerOf(
  extra: RequestExtra,
  { engine, claims, server, idle }: Asking,
  principal: string | undefined,
): ClientQuestions | undefined {
  const session = idle.askerFor(principal);
  if (session !== undefined) return session;
  const send = clientAsker(extra.sendRequest, server.server.getClientCapabilities());
  if (send === undefined) return undefined;
  return new ClientQuestions(engine, claims, send, principal === undefined ? {} : { principal });
}

/** What telemetry records of the request. */
function requestOf(extra: RequestExtra): CallRequest {
  const request: CallRequest = { id: extra.requestId, http: extra.requestInfo !== undefined };
  if (extra.sessionId !== undefined) request.sessionId = extra.sessionId;
  if (extra._meta !== undefined) request.meta = extra._meta;
  return request;
}

/** Sends a request to the client: a request's `extra.sendRequest`, or the server's own `request`. */
type SendRequest = RequestExtra["sendRequest"];

/** Asks the client with `send` the questions it declared it can take (`capabilities`). */
function clientAsker(send: SendRequest, capabilities: ClientCapabilities | undefined): AskClient | undefined {
  return askClientWith(capabilities, {
    elicit: (params, options) =>
      send(
        { method: "elicitation/create", params: params as ElicitRequestFormParams },
        ElicitResultSchema,
        options,
      ),
    sample: (params, options) =>
      send(
        { method: "sampling/createMessage", params: params as CreateMessageRequestParams },
        CreateMessageResultSchema,
        options,
      ),
    roots: (options) => send({ method: "roots/list" }, ListRootsResultSchema, options),
  });
}

/** A `tools/call` that names no tool gets a plain invalid-params error, not the SDK's internal error. */
function refuseNamelessCalls(server: McpServer): void {
  wrapRequestHandler(server, "tools/call", (original) => async (request, extra) => {
    const problem = toolCallParamsProblem(request.params);
    if (problem !== undefined) throw new McpError(ErrorCode.InvalidParams, problem);
    return original(request, extra);
  });
}

/**
 * The SDK calls the task store with a session ID but no auth info, so the requests that reach it run on
 * behalf of their caller's principal, which the store reads back (see `currentPrincipal`): a caller's tasks
 * are its own jobs only.
 */
function bindTasksToCaller(server: McpServer): void {
  for (const method of ["tools/call", "tasks/get", "tasks/result", "tasks/list", "tasks/cancel"] as const) {
    wrapRequestHandler(server, method, (original) => (request, extra) => {
      const auth = (extra as { authInfo?: Parameters<typeof principalOf>[0] } | undefined)?.authInfo;
      return runAsCaller(principalOf(auth), () => original(request, extra));
    });
  }
}

/**
 * A plain (not task-augmented) call of a task tool is answered like the v2 face does: it waits for the job
 * like the await tool (the SDK itself would poll the task to its end, past any client timeout). A tool whose
 * definition requires a task answers it with -32601, as 2025-11-25 says. Input the tool rejects goes to the
 * SDK's own handler, which answers it as any bad input (an `isError` result).
 */
function routePlainTaskCalls(
  asking: Asking,
  plainCalls: Map<string, { spec: ToolSpec; required?: string }>,
): void {
  const { server } = asking;
  wrapRequestHandler(server, "tools/call", (original) => async (request, extra) => {
    const name = request.params?.name;
    const plain = typeof name === "string" ? plainCalls.get(name) : undefined;
    if (plain === undefined || request.params?.task !== undefined) return original(request, extra);
    if (plain.required !== undefined) throw new McpError(ErrorCode.MethodNotFound, plain.required);
    const parsed = plain.spec.inputSchema.safeParse(request.params?.arguments ?? {});
    if (!parsed.success) return original(request, extra);
    return callTool(
      plain.spec,
      parsed.data as Record<string, unknown>,
      callContextOf(extra as RequestExtra, asking),
    );
  });
}

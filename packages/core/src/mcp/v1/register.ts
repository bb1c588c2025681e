/**
 * The v1 face (`@modelcontextprotocol/sdk`, protocol 2025-11-25): registers a runtime's job tools on an
 * `McpServer`, and its task tools when the server was built with {@link serverOptions}.
 */
import type { TaskStore } from "@modelcontextprotocol/sdk/experimental/tasks";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import {
  type CallToolResult,
  ErrorCode,
  McpError,
  type ServerCapabilities,
} from "@modelcontextprotocol/sdk/types.js";
import { log } from "../../internal/log.ts";
import { type AsyncTools, internalsOf } from "../../runtime/runtime.ts";
import { type JobToolsOptions, jobToolSpecs } from "../job-tools.ts";
import { principalOf, runAsCaller } from "../principal.ts";
import { plainTaskCallError, toolCallParamsProblem } from "../text.ts";
import type { CallContext } from "../tools/spec.ts";
import { fail } from "../wire.ts";
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
 * {@link serverOptions}, a task-capable tool per definition for clients that speak MCP Tasks. Registering
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
  for (const spec of specs) {
    server.registerTool(
      spec.name,
      {
        title: spec.title,
        description: spec.description,
        inputSchema: spec.inputSchema,
        ...(spec.outputSchema === undefined ? {} : { outputSchema: spec.outputSchema }),
        annotations: spec.annotations,
      },
      async (args: Record<string, unknown>, extra) => {
        const token = extra._meta?.progressToken;
        const ctx: CallContext = { signal: extra.signal };
        const principal = principalOf(extra.authInfo);
        if (principal !== undefined) ctx.principal = principal;
        if (token !== undefined) {
          ctx.progress = (update) => {
            void extra
              .sendNotification({
                method: "notifications/progress",
                params: { progressToken: token, ...update },
              })
              .catch(() => undefined);
          };
        }
        return (await spec.handler(args, ctx)) as CallToolResult;
      },
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
  const taskTools = new Map<string, string>();
  for (const tool of withTasks) {
    const names = namesOf.get(tool.name);
    if (names === undefined) continue;
    store.callNames.set(tool.name, names.start);
    const name = registerTaskTool(server, tool, engine, names);
    if (name !== undefined) taskTools.set(name, plainTaskCallError(name, names));
  }
  hideTaskToolsFromPlainClients(server, taskTools);
  bindTasksToCaller(server);
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
 * A task tool is listed only to clients that declared task-augmented `tools/call`; a client that calls it
 * without a task anyway gets a tool error pointing to start and await, not a protocol error it cannot act on.
 */
function hideTaskToolsFromPlainClients(server: McpServer, taskTools: Map<string, string>): void {
  const speaksTasks = () => {
    const tools = server.server.getClientCapabilities()?.tasks?.requests?.tools as
      | { call?: unknown }
      | undefined;
    return tools?.call !== undefined;
  };
  wrapRequestHandler(server, "tools/list", (original) => async (request, extra) => {
    const result = (await original(request, extra)) as { tools: { name: string }[] };
    if (speaksTasks()) return result;
    return { ...result, tools: result.tools.filter((tool) => !taskTools.has(tool.name)) };
  });
  wrapRequestHandler(server, "tools/call", (original) => async (request, extra) => {
    const name = request.params?.name;
    const plainCall = request.params?.task === undefined;
    const message = typeof name === "string" ? taskTools.get(name) : undefined;
    if (message !== undefined && plainCall) return fail(message);
    return original(request, extra);
  });
}

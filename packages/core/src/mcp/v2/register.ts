/**
 * The v2 face (`@modelcontextprotocol/server`, protocols 2025-11-25 and 2026-07-28): registers a runtime's job
 * tools on a v2 `McpServer` from the same specs as the v1 face, so both give the same tools, IDs, errors and
 * results; and serves the 2026-07-28 Tasks extension on the same jobs through each definition's task tool.
 */
import type { CallToolResult, McpServer, ServerContext } from "@modelcontextprotocol/server";
import type { z } from "zod";
import type { AnyAsyncTool } from "../../define.ts";
import type { JobEngine } from "../../runtime/job-engine.ts";
import { type AsyncTools, internalsOf } from "../../runtime/runtime.ts";
import { type JobToolsOptions, jobToolSpecs } from "../job-tools.ts";
import type { CallContext, ToolSpec } from "../tools/spec.ts";
import { freshField } from "../wire.ts";
import { type RawHandler, wrapRequestHandler } from "./sdk-internals.ts";
import { taskToolSpec } from "./task-tool.ts";
import {
  ExtensionTasks,
  isModernRequest,
  requestSpeaksTasks,
  serveExtensionTasks,
} from "./tasks-extension.ts";

/** How {@link registerTools} lays the tools out. */
export interface RegisterToolsOptions extends JobToolsOptions {
  /**
   * Serve the 2026-07-28 Tasks extension (`io.modelcontextprotocol/tasks`) on the definitions' task tools.
   * Default true; `false` registers only the start, probe, await and cancel tools.
   */
  tasks?: boolean;
}

const extensionTasks = new WeakMap<AsyncTools, ExtensionTasks>();

function extensionTasksFor(runtime: AsyncTools, engine: JobEngine, retentionMs: number): ExtensionTasks {
  let tasks = extensionTasks.get(runtime);
  if (tasks === undefined) {
    tasks = new ExtensionTasks(engine, { retentionMs });
    extensionTasks.set(runtime, tasks);
  }
  return tasks;
}

/**
 * Exposes the runtime's async tools on a v2 `server`: for each definition a start tool, and probe, await
 * and cancel tools (per definition, or shared with `jobTools: "shared"`), exactly as the v1 face does; and
 * a task tool per definition (e.g. `build_report`) with the 2026-07-28 Tasks extension. Call it once per
 * McpServer, before it connects (for `serveStdio`, inside the factory). Registering starts nothing: the
 * runtime already runs and recovers jobs.
 *
 * The task tool is listed only to requests that declare the extension. Called with it, the tool answers at
 * once with `resultType: "task"` (task ID = job ID) and the client follows it with `tasks/get`. Called
 * without it, it waits for the job like the await tool and returns the result, or a tool error that names
 * the job to await. The start tool never answers with a task, so a Tasks-capable host can still hand a
 * model the start/await pair.
 *
 * @example
 * ```ts
 * import { McpServer } from "@modelcontextprotocol/server";
 * import { registerTools, serveStdio } from "@async-tools/core/mcp-v2";
 *
 * const runtime = await createAsyncTools({ name: "reports", tools: [buildReport] });
 * serveStdio(() => {
 *   const server = new McpServer({ name: "reports", version: "1.0.0" });
 *   registerTools(server, runtime); // start_build_report, probe_…, await_…, cancel_…, and the task tool build_report
 *   return server;
 * }, { runtime });
 * ```
 */
export function registerTools(
  server: McpServer,
  runtime: AsyncTools,
  options: RegisterToolsOptions = {},
): void {
  const { engine, retentionMs, assertOpen } = internalsOf(runtime);
  assertOpen();
  const definitions = engine.definitions();
  const { specs, namesOf } = jobToolSpecs(engine, definitions, options);
  for (const spec of specs) registerSpec(server, spec);

  const withTasks = options.tasks === false ? [] : definitions.filter((d) => d.toolNames.task !== false);
  if (withTasks.length === 0) return;
  const tasks = extensionTasksFor(runtime, engine, retentionMs);
  const taskTools = new Map<string, AnyAsyncTool>();
  for (const tool of withTasks) {
    const names = namesOf.get(tool.name);
    const spec = names === undefined ? undefined : taskToolSpec(tool, engine, names);
    if (names === undefined || spec === undefined) continue;
    tasks.callNames.set(tool.name, names.start);
    registerSpec(server, spec);
    taskTools.set(spec.name, tool);
  }
  serveExtensionTasks(server, tasks);
  routeTaskCalls(server, tasks, taskTools);
}

/** Registers one spec as a v2 tool; the handler's context comes from the SDK's `ctx.mcpReq`. */
function registerSpec(server: McpServer, spec: ToolSpec): void {
  server.registerTool(
    spec.name,
    {
      title: spec.title,
      description: spec.description,
      inputSchema: spec.inputSchema,
      ...(spec.outputSchema === undefined ? {} : { outputSchema: spec.outputSchema }),
      annotations: spec.annotations,
    },
    async (args: Record<string, unknown>, ctx: ServerContext) => {
      const token = ctx.mcpReq._meta?.progressToken;
      const call: CallContext = { signal: ctx.mcpReq.signal };
      if (token !== undefined) {
        call.progress = (update) => {
          void ctx.mcpReq
            .notify({ method: "notifications/progress", params: { progressToken: token, ...update } })
            .catch(() => undefined);
        };
      }
      return (await spec.handler(args, call)) as CallToolResult;
    },
  );
}

/**
 * Task tools are listed only to requests that declare the Tasks extension, like v1 lists them only to
 * clients that declared Tasks: a client without it sees the same tools on both faces. A `tools/call` of a
 * task tool that declares the extension becomes a task; input the tool rejects goes to the SDK's own
 * handler, which answers it as any bad input (an `isError` result).
 */
function routeTaskCalls(
  server: McpServer,
  tasks: ExtensionTasks,
  taskTools: Map<string, AnyAsyncTool>,
): void {
  const speaksTasks = (ctx: ServerContext) => isModernRequest(ctx) && requestSpeaksTasks(ctx);
  wrapRequestHandler(server, "tools/list", (original: RawHandler) => async (request, ctx) => {
    const result = (await original(request, ctx)) as { tools: { name: string }[] };
    if (speaksTasks(ctx)) return result;
    return { ...result, tools: result.tools.filter((tool) => !taskTools.has(tool.name)) };
  });
  wrapRequestHandler(server, "tools/call", (original: RawHandler) => async (request, ctx) => {
    const name = request.params?.name;
    const tool = typeof name === "string" ? taskTools.get(name) : undefined;
    if (tool === undefined || !speaksTasks(ctx)) return original(request, ctx);
    const schema = (tool.input as z.ZodObject).extend({ fresh: freshField });
    const parsed = schema.safeParse(request.params?.arguments ?? {});
    if (!parsed.success) return original(request, ctx);
    const { fresh, ...input } = parsed.data as Record<string, unknown>;
    return tasks.create(tool, input, fresh === true);
  });
}

/**
 * Native MCP Tasks (spec 2025-11-25) on the same durable jobs, for the v1 SDK: each definition becomes a
 * task tool named after it (e.g. `weather_data`), listed to every client with the definition's
 * `execution.taskSupport` (`optional` by default). A task-augmented call starts or joins the job and returns
 * its task at once; a plain call is answered by the shared task tool spec (`mcp/tools/task.ts`), which waits
 * like the await tool (see register.ts, which routes it).
 *
 * Why not give the start tool task support: the SDK answers a plain call of a task-capable tool by polling
 * the task to its end, the handler cannot tell a plain call from a task call, and one tool has one output
 * schema: the start tool's describes a job receipt, a task's result is the job's result.
 */
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult, ServerCapabilities } from "@modelcontextprotocol/sdk/types.js";
import type { AnyAsyncTool } from "../../define.ts";
import type { JobEngine } from "../../runtime/job-engine.ts";
import { principalOf } from "../principal.ts";
import type { ToolSpec } from "../tools/spec.ts";
import { JOB_ID_CONTEXT } from "./durable-task-store.ts";

/** The `tasks` capability a server with a {@link DurableTaskStore} announces. */
export const TASKS_CAPABILITY: NonNullable<ServerCapabilities["tasks"]> = {
  list: {},
  cancel: {},
  requests: { tools: { call: {} } },
};

/** Exposes `tool` as its task tool `spec` on `server`, whose task store must be ours. */
export function registerTaskTool(
  server: McpServer,
  tool: AnyAsyncTool,
  spec: ToolSpec,
  engine: JobEngine,
): void {
  server.experimental.tasks.registerToolTask(
    spec.name,
    {
      title: spec.title,
      description: spec.description,
      inputSchema: spec.inputSchema,
      ...(spec.outputSchema === undefined ? {} : { outputSchema: spec.outputSchema }),
      annotations: spec.annotations,
      execution: { taskSupport: tool.taskSupport },
    },
    {
      createTask: async (args: unknown, extra) => {
        const { fresh, ...rest } = args as Record<string, unknown>;
        const principal = principalOf(extra.authInfo);
        const started = await engine.start(tool, rest, {
          fresh: fresh === true,
          ...(principal === undefined ? {} : { principal }),
        });
        const task = await extra.taskStore.createTask({
          ...(extra.taskRequestedTtl === undefined ? {} : { ttl: extra.taskRequestedTtl }),
          context: { [JOB_ID_CONTEXT]: started.jobId },
        });
        return { task };
      },
      getTask: async (_args, extra) => extra.taskStore.getTask(extra.taskId),
      getTaskResult: async (_args, extra) =>
        (await extra.taskStore.getTaskResult(extra.taskId)) as CallToolResult,
    },
  );
}

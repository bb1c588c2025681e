/**
 * Native MCP Tasks (spec 2025-11-25) on the same durable jobs, for the v1 SDK: each definition becomes a
 * task-capable tool named after it (e.g. `weather_data`). A task-augmented call starts or joins the job and
 * returns its task at once. Task support is required: a plain call would block until the job ends, which is
 * what the start/await pair exists to avoid. The tool is listed only to clients that declared Tasks, and a
 * plain call of it anyway gets a tool error that points to start and await (see register.ts).
 *
 * Why not give the start tool task support: the SDK answers a plain call of a task-capable tool by polling
 * the task to its end, the handler cannot tell a plain call from a task call, and one tool has one output
 * schema: the start tool's describes a job receipt, a task's result is the job's result.
 */
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult, ServerCapabilities } from "@modelcontextprotocol/sdk/types.js";
import type { z } from "zod";
import type { AnyAsyncTool } from "../../define.ts";
import type { JobEngine } from "../../runtime/job-engine.ts";
import { principalOf } from "../principal.ts";
import { type JobToolNames, taskDescription } from "../text.ts";
import { freshField } from "../wire.ts";
import { JOB_ID_CONTEXT } from "./durable-task-store.ts";

/** The `tasks` capability a server with a {@link DurableTaskStore} announces. */
export const TASKS_CAPABILITY: NonNullable<ServerCapabilities["tasks"]> = {
  list: {},
  cancel: {},
  requests: { tools: { call: {} } },
};

/** Exposes `tool` as its task-capable tool on `server`, whose task store must be ours. Returns its name. */
export function registerTaskTool(
  server: McpServer,
  tool: AnyAsyncTool,
  engine: JobEngine,
  names: JobToolNames,
): string | undefined {
  const name = tool.toolNames.task;
  if (name === false) return undefined;
  // A tool's outputSchema must describe an object; other results are returned as text only.
  const output = tool.output !== undefined && "shape" in tool.output ? tool.output : undefined;
  server.experimental.tasks.registerToolTask(
    name,
    {
      title: `Run: ${tool.name}`,
      description: taskDescription(tool.description, names),
      inputSchema: (tool.input as z.ZodObject).extend({ fresh: freshField }),
      ...(output === undefined ? {} : { outputSchema: output }),
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
      execution: { taskSupport: "required" },
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
  return name;
}

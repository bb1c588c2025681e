/**
 * Native MCP Tasks (spec 2025-11-25) on the same durable jobs: each definition becomes a task-capable tool
 * named after it (e.g. `weather_data`). A task-augmented call starts or joins the job and returns its task
 * at once. Task support is required: a plain call would block until the job ends, which is what the tool
 * triple exists to avoid, so clients without Tasks are pointed to the start tool instead.
 *
 * Why not give the start tool task support: the SDK answers a plain call of a task-capable tool by polling
 * the task to its end, the handler cannot tell a plain call from a task call, and one tool has one output
 * schema: the start tool's describes a job receipt, a task's result is the job's result.
 */
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult, ServerCapabilities } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import type { AsyncTool } from "../define-async-tool.ts";
import type { JobEngine } from "../jobs.ts";
import { JOB_ID_CONTEXT } from "./durable-task-store.ts";

type AnyTool = AsyncTool<z.ZodObject, unknown>;

/** The `tasks` capability a server with a {@link DurableTaskStore} announces. */
export const TASKS_CAPABILITY: NonNullable<ServerCapabilities["tasks"]> = {
  list: {},
  cancel: {},
  requests: { tools: { call: {} } },
};

/** The task store `server` was built with, if any. */
export function taskStoreOf(server: McpServer): unknown {
  // The SDK keeps the store private and offers no getter; it is only ever set by the constructor.
  return (server.server as unknown as { _taskStore?: unknown })._taskStore;
}

/** Exposes `tool` as the task-capable tool `tool.name` on `server`, whose task store must be ours. */
export function registerTaskTools(server: McpServer, tool: AnyTool, engine: JobEngine): void {
  const names = tool.toolNames;
  const input = tool.input.extend({
    fresh: z
      .boolean()
      .optional()
      .describe(
        "Start a new run even if this exact job already finished. Leave out to reuse the existing job.",
      ),
  });
  // A tool's outputSchema must describe an object; other results are returned as text only.
  const output = tool.output !== undefined && "shape" in tool.output ? tool.output : undefined;

  server.experimental.tasks.registerToolTask(
    names.task === false ? tool.name : names.task,
    {
      title: `Run: ${tool.name}`,
      description:
        `${tool.description.replace(/\.?\s*$/, ".")} Only for clients that support MCP Tasks: call it ` +
        `task-augmented to get a task at once. Without Tasks, call ${names.start} and then ${names.await}. The ` +
        `same arguments always give the same job, shared with ${names.start}, and never run the work twice: ` +
        `the task ID is the ${tool.idField} that ${names.probe} and ${names.await} take.`,
      inputSchema: input,
      ...(output === undefined ? {} : { outputSchema: output }),
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
      execution: { taskSupport: "required" },
    },
    {
      createTask: async (args, extra) => {
        const { fresh, ...rest } = args as Record<string, unknown>;
        const { snapshot } = await engine.start(tool, rest, { fresh: fresh === true });
        const task = await extra.taskStore.createTask({
          ttl: extra.taskRequestedTtl,
          context: { [JOB_ID_CONTEXT]: snapshot.job_id },
        });
        return { task };
      },
      getTask: async (_args, extra) => extra.taskStore.getTask(extra.taskId),
      getTaskResult: async (_args, extra) =>
        (await extra.taskStore.getTaskResult(extra.taskId)) as CallToolResult,
    },
  );
}

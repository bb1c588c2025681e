/** The start tool of one definition: validates, starts or joins the job, and answers at once. */
import { z } from "zod";
import type { AnyAsyncTool } from "../../define.ts";
import type { JobEngine } from "../../runtime/job-engine.ts";
import { type JobToolNames, startDescription, startedText } from "../text.ts";
import { freshField, ok, STATUS } from "../wire.ts";
import { callerOf, type ToolSpec } from "./spec.ts";

export function startTool(
  tool: AnyAsyncTool,
  engine: JobEngine,
  names: JobToolNames,
  awaitSeconds: number,
): ToolSpec {
  return {
    name: tool.toolNames.start,
    title: `Start: ${tool.name}`,
    description: startDescription(tool.description, names, awaitSeconds),
    inputSchema: (tool.input as z.ZodObject).extend({ fresh: freshField }),
    outputSchema: z.object({
      [names.idField]: z.string(),
      status: STATUS,
      created: z.boolean(),
      tool: z.string(),
      queue_position: z.number().optional(),
      next: z.string(),
    }),
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    async handler(args, ctx) {
      const { fresh, ...input } = args;
      const started = await engine.start(tool, input, {
        fresh: fresh === true,
        ...callerOf(ctx),
        trace: ctx.trace,
      });
      const { text, next } = startedText(started, started.created, names);
      return ok(text, {
        [names.idField]: started.jobId,
        status: started.status,
        created: started.created,
        tool: tool.name,
        ...(started.queuePosition === undefined ? {} : { queue_position: started.queuePosition }),
        next,
      });
    },
  };
}

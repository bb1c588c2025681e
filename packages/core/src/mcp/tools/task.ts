/**
 * The task tool of one definition (named after it, e.g. `square`), as a generation-agnostic spec for both
 * faces: the definition's input plus `fresh`, and its output as the output schema, so a task's result is
 * described by the tool that made it. A call that asks for a task never reaches this handler (each face
 * answers it with a task); this handler is the plain call, which waits like the await tool, up to the same
 * bound, and returns the job's result, or a tool error that names the job and the await tool.
 */
import type { z } from "zod";
import type { AnyAsyncTool } from "../../define.ts";
import { isUnfinished, type JobSnapshot } from "../../runtime/job.ts";
import type { JobEngine } from "../../runtime/job-engine.ts";
import { awaitBounds } from "../await-bounds.ts";
import { waitAsking } from "../client-questions.ts";
import { ProgressReporter } from "../progress-reporter.ts";
import { toolResultOf } from "../tasks/job-task.ts";
import { type JobToolNames, questionsNote, stillRunningText, taskDescription } from "../text.ts";
import { fail, freshField } from "../wire.ts";
import { callerOf, type ToolSpec } from "./spec.ts";

/** The task tool of `tool`, or `undefined` when the definition leaves it out (`toolNames.task: false`). */
export function taskToolSpec(
  tool: AnyAsyncTool,
  engine: JobEngine,
  names: JobToolNames,
): ToolSpec | undefined {
  const name = tool.toolNames.task;
  if (name === false) return undefined;
  // A tool's outputSchema must describe an object; other results are returned as text only.
  const output =
    tool.output !== undefined && "shape" in tool.output ? (tool.output as z.ZodObject) : undefined;
  const waitMs = awaitBounds([tool]).defaultMs;
  const waitSeconds = tool.taskSupport === "required" ? undefined : Math.round(waitMs / 1000);
  return {
    name,
    title: `Run: ${tool.name}`,
    description: taskDescription(tool.description, names, waitSeconds),
    inputSchema: (tool.input as z.ZodObject).extend({ fresh: freshField }),
    ...(output === undefined ? {} : { outputSchema: output }),
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    async handler(args, ctx) {
      const { fresh, ...input } = args;
      const caller = callerOf(ctx);
      const started = await engine.start(tool, input, {
        fresh: fresh === true,
        ...caller,
        trace: ctx.trace,
      });
      const reporter = ctx.progress ? new ProgressReporter(ctx.progress) : undefined;
      const options = {
        signal: ctx.signal,
        ...caller,
        ...(reporter === undefined ? {} : { onTick: (current: JobSnapshot[]) => reporter.tick(current) }),
      };
      const [snapshot] = await waitAsking(engine, [started.jobId], waitMs, options, ctx.asker);
      if (snapshot?.status === "input_required") {
        return fail(`Job ${started.jobId} waits for an answer.${questionsNote([snapshot], names)}`);
      }
      if (snapshot === undefined || isUnfinished(snapshot.status)) {
        return fail(stillRunningText(started.jobId, waitMs, names));
      }
      return toolResultOf(snapshot, tool, names.start);
    },
  };
}

/** The await tool: blocks, bounded, for results, with progress notifications while it waits. */
import { z } from "zod";
import type { JobSnapshot } from "../../runtime/job.ts";
import { isUnfinished } from "../../runtime/job.ts";
import { awaitBounds } from "../await-bounds.ts";
import { waitAsking } from "../client-questions.ts";
import { jobIdsSchema } from "../job-id-args.ts";
import { ProgressReporter } from "../progress-reporter.ts";
import { awaitDescription, describeLine, idsFieldOf, questionsNote } from "../text.ts";
import { jobSchema, ok, toWire } from "../wire.ts";
import { notFoundNote, readIds } from "./read-ids.ts";
import { callerOf, type JobToolScope, type ToolSpec } from "./spec.ts";

/** Options of the await tool that tests and benchmarks may tighten. */
export interface AwaitTiming {
  tickMs?: number;
  keepAliveMs?: number;
}

export function awaitTool(scope: JobToolScope, timing: AwaitTiming = {}): ToolSpec {
  const { names, engine } = scope;
  const idsField = idsFieldOf(names.idField);
  const example = `${scope.tools[0]?.name ?? "job"}-3f2a9c1e0b7d4a55`;
  const { defaultMs, maxMs } = awaitBounds(scope.tools);
  const defaultSeconds = Math.round(defaultMs / 100) / 10;
  const maxSeconds = Math.round(maxMs / 100) / 10;
  const result = scope.tools.length === 1 ? scope.tools[0]?.output : undefined;
  return {
    name: names.await,
    title: `Await: ${scope.tools.length === 1 ? scope.tools[0]?.name : "jobs"}`,
    description: awaitDescription(scope.startedBy, names, defaultSeconds, maxSeconds),
    inputSchema: z.object({
      [idsField]: jobIdsSchema(idsField, example),
      timeout_seconds: z
        .number()
        .min(0)
        .optional()
        .describe(
          `How long to wait at most, in seconds (default ${defaultSeconds}; values above ${maxSeconds} are reduced to ${maxSeconds}).`,
        ),
    }),
    outputSchema: z.object({
      jobs: z.array(jobSchema(names.idField, result)),
      done: z.boolean(),
      still_working: z.array(z.string()),
      waited_seconds: z.number(),
    }),
    annotations: { readOnlyHint: true, openWorldHint: false },
    async handler(args, ctx) {
      const caller = callerOf(ctx);
      const read = await readIds(args[idsField], scope, caller, true);
      if ("error" in read) return read.error;
      const requestedMs = typeof args.timeout_seconds === "number" ? args.timeout_seconds * 1000 : defaultMs;
      const began = Date.now();
      const reporter = ctx.progress ? new ProgressReporter(ctx.progress, timing.keepAliveMs) : undefined;
      const options = {
        signal: ctx.signal,
        ...caller,
        read: read.snapshots,
        ...(reporter === undefined
          ? {}
          : { onTick: (current: JobSnapshot[]) => reporter.tick(current), tickMs: timing.tickMs }),
      };
      const timeoutMs = Math.min(requestedMs, maxMs);
      const snapshots = await waitAsking(engine, read.ids, timeoutMs, options, ctx.asker);
      const stillWorking = snapshots.filter((s) => isUnfinished(s.status)).map((s) => s.jobId);
      const waited = Math.round((Date.now() - began) / 100) / 10;
      const asking = snapshots.filter((s) => s.status === "input_required").length;
      const header =
        stillWorking.length === 0
          ? `All ${snapshots.length} jobs are done.`
          : `${snapshots.length - stillWorking.length} of ${snapshots.length} jobs done after ${waited} s` +
            (asking > 0 ? `; ${asking} waiting for an answer (see below).` : ".") +
            ` Call ${names.await} again with {"${idsField}": ${JSON.stringify(stillWorking)}} for the rest.`;
      const lines = snapshots.map(describeLine).join("\n");
      return ok(`${header}\n${lines}${notFoundNote(snapshots, scope)}${questionsNote(snapshots, names)}`, {
        jobs: snapshots.map((s) => toWire(s, names.idField)),
        done: stillWorking.length === 0,
        still_working: stillWorking,
        waited_seconds: waited,
      });
    },
  };
}

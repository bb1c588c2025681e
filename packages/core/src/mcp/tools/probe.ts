/** The probe tool: the state of one or many jobs, never blocking, never carrying results. */
import { z } from "zod";
import { jobIdsSchema } from "../job-id-args.ts";
import { describeLine, idsFieldOf, probeDescription, questionsNote } from "../text.ts";
import { ok, toWire } from "../wire.ts";
import { notFoundNote, readIds } from "./read-ids.ts";
import { callerOf, type JobToolScope, type ToolSpec } from "./spec.ts";

export function probeTool(scope: JobToolScope): ToolSpec {
  const { names } = scope;
  const idsField = idsFieldOf(names.idField);
  const example = `${scope.tools[0]?.name ?? "job"}-3f2a9c1e0b7d4a55`;
  return {
    name: names.probe,
    title: `Probe: ${scope.tools.length === 1 ? scope.tools[0]?.name : "jobs"}`,
    description: probeDescription(scope.startedBy, names),
    inputSchema: z.object({ [idsField]: jobIdsSchema(idsField, example) }),
    // No outputSchema: the jobs' shape is await's (which carries results); leaving it out here keeps
    // tools/list lean for every client, and the structured content is still sent.
    annotations: { readOnlyHint: true, openWorldHint: false },
    async handler(args, ctx) {
      const read = await readIds(args[idsField], scope, callerOf(ctx));
      if ("error" in read) return read.error;
      const { snapshots } = read;
      const done = snapshots.filter((s) => s.status === "completed").length;
      const hint = done > 0 ? ` Call ${names.await} to collect results.` : "";
      return ok(
        `${done} of ${snapshots.length} completed.${hint}\n${snapshots.map(describeLine).join("\n")}` +
          notFoundNote(snapshots, scope) +
          questionsNote(snapshots, names),
        {
          jobs: snapshots.map((s) => toWire(s, names.idField)),
        },
      );
    },
  };
}

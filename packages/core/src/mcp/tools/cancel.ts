/** The cancel tool: cancels unfinished jobs; finished ones stay as they are. */
import { z } from "zod";
import { jobIdsSchema } from "../job-id-args.ts";
import { cancelDescription, describeLine, idsFieldOf } from "../text.ts";
import { ok, toWire } from "../wire.ts";
import { notFoundNote, readIds } from "./read-ids.ts";
import { callerOf, type JobToolScope, type ToolSpec } from "./spec.ts";

export function cancelTool(scope: JobToolScope, name: string): ToolSpec {
  const { names, engine } = scope;
  const idsField = idsFieldOf(names.idField);
  const example = `${scope.tools[0]?.name ?? "job"}-3f2a9c1e0b7d4a55`;
  return {
    name,
    title: `Cancel: ${scope.tools.length === 1 ? scope.tools[0]?.name : "jobs"}`,
    description: cancelDescription(scope.startedBy),
    inputSchema: z.object({ [idsField]: jobIdsSchema(idsField, example) }),
    // No outputSchema: the jobs' shape is await's (which carries results); leaving it out here keeps
    // tools/list lean for every client, and the structured content is still sent.
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    async handler(args, ctx) {
      const caller = callerOf(ctx);
      const read = await readIds(args[idsField], scope, caller);
      if ("error" in read) return read.error;
      const snapshots = await Promise.all(read.ids.map((id) => engine.cancel(id, undefined, caller)));
      return ok(snapshots.map(describeLine).join("\n") + notFoundNote(snapshots, scope), {
        jobs: snapshots.map((s) => toWire(s, names.idField)),
      });
    },
  };
}

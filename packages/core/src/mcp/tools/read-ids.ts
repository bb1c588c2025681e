/**
 * Reading the job IDs a probe, await or cancel call names: lenient parsing, one read per job, and refusals a
 * model can act on (IDs of another tool's jobs, nothing but unknown IDs).
 */
import type { CallerScope, JobSnapshot } from "../../runtime/job-engine.ts";
import { normalizeJobIds } from "../job-id-args.ts";
import { idsFieldOf } from "../text.ts";
import { fail, type ToolResult } from "../wire.ts";
import type { JobToolScope } from "./spec.ts";

export async function readIds(
  raw: unknown,
  scope: JobToolScope,
  caller: CallerScope = {},
): Promise<{ ids: string[]; snapshots: JobSnapshot[] } | { error: ToolResult }> {
  const { names, engine, tools } = scope;
  const idsField = idsFieldOf(names.idField);
  const example = `${tools[0]?.name ?? "job"}-3f2a9c1e0b7d4a55`;
  const parsed = normalizeJobIds(raw, idsField, example);
  if (!parsed.ok) return { error: fail(parsed.message) };
  const snapshots = await Promise.all(parsed.ids.map((id) => engine.snapshot(id, false, caller)));
  const served = new Set(tools.map((t) => t.name));
  const foreign = snapshots.filter((s) => s.tool !== undefined && !served.has(s.tool));
  if (foreign.length > 0) {
    const lines = foreign.map(({ jobId, tool: owner }) => {
      const other = owner === undefined ? undefined : engine.definition(owner);
      return `${jobId} is a job of ${owner}${other ? `: use ${other.toolNames.probe} / ${other.toolNames.await}` : ""}`;
    });
    const whose = tools.length === 1 ? (tools[0]?.name ?? "") : "these tools";
    return { error: fail(`These ${idsField} do not belong to ${whose}: ${lines.join("; ")}.`) };
  }
  if (snapshots.every((s) => s.status === "not_found")) {
    return {
      error: fail(
        `No job found for ${parsed.ids.join(", ")}. Use a ${names.idField} returned by ${scope.startedBy}, or ` +
          `call ${scope.startedBy} to start the job.`,
      ),
    };
  }
  return { ids: parsed.ids, snapshots };
}

/**
 * Reading the job IDs a probe, await or cancel call names: lenient parsing, one read per job, a refusal a
 * model can act on for IDs of another tool's jobs, and a note on unknown ones.
 */
import type { CallerScope, JobSnapshot } from "../../runtime/job.ts";
import { normalizeJobIds } from "../job-id-args.ts";
import { idsFieldOf } from "../text.ts";
import { fail, type ToolResult } from "../wire.ts";
import type { JobToolScope } from "./spec.ts";

/** Reads each job a call names once: with its result, when `withResult` (for await). */
export async function readIds(
  raw: unknown,
  scope: JobToolScope,
  caller: CallerScope = {},
  withResult = false,
): Promise<{ ids: string[]; snapshots: JobSnapshot[] } | { error: ToolResult }> {
  const { names, engine, tools } = scope;
  const idsField = idsFieldOf(names.idField);
  const example = `${tools[0]?.name ?? "job"}-3f2a9c1e0b7d4a55`;
  const parsed = normalizeJobIds(raw, idsField, example);
  if (!parsed.ok) return { error: fail(parsed.message) };
  const snapshots = await Promise.all(parsed.ids.map((id) => engine.snapshot(id, withResult, caller)));
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
  return { ids: parsed.ids, snapshots };
}

/**
 * The line a probe, await or cancel answer ends with when it names unknown jobs (never started, expired, or
 * another caller's): an unknown ID is a `not_found` entry like any other, whether or not the call also names
 * known ones, and this says what to do about it. Empty when every job was found.
 */
export function notFoundNote(snapshots: readonly JobSnapshot[], scope: JobToolScope): string {
  const unknown = snapshots.filter((s) => s.status === "not_found").map((s) => s.jobId);
  if (unknown.length === 0) return "";
  const { names, startedBy } = scope;
  return (
    `\nNo job found for ${unknown.join(", ")}. Use a ${names.idField} returned by ${startedBy}, or call ` +
    `${startedBy} to start the job.`
  );
}

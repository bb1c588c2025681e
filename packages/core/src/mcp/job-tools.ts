/**
 * The MCP tools of a runtime, independent of the SDK generation: a start tool per definition, and probe,
 * await and cancel either per definition (`start_x`, `probe_x`, `await_x`, `cancel_x`: 4 tools each) or shared
 * by all of them (N start tools + 3), since a job ID already names its tool. A definition that asks questions
 * also gets a respond tool (or shares one).
 */
import type { AnyAsyncTool } from "../define.ts";
import type { JobEngine } from "../runtime/job-engine.ts";
import { awaitBounds } from "./await-bounds.ts";
import type { JobToolNames } from "./text.ts";
import { type AwaitTiming, awaitTool } from "./tools/await.ts";
import { cancelTool } from "./tools/cancel.ts";
import { probeTool } from "./tools/probe.ts";
import { respondTool } from "./tools/respond.ts";
import type { JobToolScope, ToolSpec } from "./tools/spec.ts";
import { startTool } from "./tools/start.ts";

/** Names of the shared probe, await and cancel tools. */
export interface SharedJobToolNames {
  probe?: string;
  await?: string;
  /** `false` leaves the shared cancel tool out. */
  cancel?: string | false;
  /** The shared respond tool, listed when a definition asks (`asks: true`). Default `respond_jobs`. */
  respond?: string;
}

/** How the job tools are laid out. */
export interface JobToolsOptions {
  /**
   * `"per-tool"` (default): each definition gets its own probe, await and cancel tools. `"shared"`: one probe,
   * one await and one cancel tool serve every definition (named by `sharedNames`), so ten async tools cost a
   * model thirteen tools instead of forty.
   */
  jobTools?: "per-tool" | "shared";
  /** Names of the shared tools. Default `probe_jobs`, `await_jobs`, `cancel_jobs`. */
  sharedNames?: SharedJobToolNames;
  /** Tightens the await tool's progress timing (tests, benchmarks). */
  awaitTiming?: AwaitTiming;
}

/** The tools for `definitions`, plus for each definition the names its text points at. */
export function jobToolSpecs(
  engine: JobEngine,
  definitions: readonly AnyAsyncTool[],
  options: JobToolsOptions = {},
): { specs: ToolSpec[]; namesOf: Map<string, JobToolNames> } {
  const specs: ToolSpec[] = [];
  const namesOf = new Map<string, JobToolNames>();
  if (options.jobTools === "shared") {
    const ids = new Set(definitions.map((d) => d.idField));
    const names: JobToolNames = {
      start: definitions.length === 1 ? (definitions[0]?.toolNames.start ?? "start") : "the start tools",
      probe: options.sharedNames?.probe ?? "probe_jobs",
      await: options.sharedNames?.await ?? "await_jobs",
      cancel: options.sharedNames?.cancel === false ? false : (options.sharedNames?.cancel ?? "cancel_jobs"),
      respond: definitions.some((d) => d.toolNames.respond !== false)
        ? (options.sharedNames?.respond ?? "respond_jobs")
        : false,
      idField: ids.size === 1 ? ([...ids][0] ?? "job_id") : "job_id",
    };
    const startedBy =
      definitions.length === 1 ? names.start : definitions.map((d) => d.toolNames.start).join(", ");
    for (const tool of definitions) {
      const own = { ...names, start: tool.toolNames.start, idField: names.idField };
      namesOf.set(tool.name, own);
      specs.push(startTool(tool, engine, own, seconds(awaitBounds([tool]).defaultMs)));
    }
    const scope: JobToolScope = { engine, names, tools: definitions, startedBy };
    specs.push(probeTool(scope), awaitTool(scope, options.awaitTiming));
    if (names.cancel) specs.push(cancelTool(scope, names.cancel));
    if (names.respond) specs.push(respondTool(scope, names.respond));
    return { specs, namesOf };
  }
  for (const tool of definitions) {
    const names: JobToolNames = { ...tool.toolNames, idField: tool.idField };
    namesOf.set(tool.name, names);
    const scope: JobToolScope = { engine, names, tools: [tool], startedBy: tool.toolNames.start };
    specs.push(
      startTool(tool, engine, names, seconds(awaitBounds([tool]).defaultMs)),
      probeTool(scope),
      awaitTool(scope, options.awaitTiming),
    );
    if (tool.toolNames.cancel) specs.push(cancelTool(scope, tool.toolNames.cancel));
    if (tool.toolNames.respond) specs.push(respondTool(scope, tool.toolNames.respond));
  }
  return { specs, namesOf };
}

function seconds(ms: number): number {
  return Math.round(ms / 100) / 10;
}

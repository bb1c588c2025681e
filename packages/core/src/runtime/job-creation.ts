/**
 * Creating a job: its root durable promise, with its tags (tool, run tag, principal, trace), in one request
 * to the store; and telling a creation of this process from a promise that was there already, by its run tag.
 */
import { randomUUID } from "node:crypto";
import { Never } from "@resonatehq/sdk";
import type { Resonate } from "@resonatehq/sdk/async";
import type { AnyAsyncTool } from "../define.ts";
import type { TraceContext } from "../internal/trace-context.ts";
import { type JobIndex, PRINCIPAL_TAG } from "../store/store.ts";
import type { ToolSlots } from "../store/tool-slots.ts";
import { iso, type JobSnapshot, RUN_TAG, TOOL_TAG, TRACEPARENT_TAG, TRACESTATE_TAG } from "./job.ts";
import type { JobEvent } from "./job-events.ts";
import type { LocalJobs } from "./local-jobs.ts";
import type { CreateOutcome } from "./resonate-internals.ts";

/** What a creation needs of its engine. */
export interface CreationDeps {
  readonly jobs: LocalJobs;
  readonly resonate: Resonate;
  readonly meta: JobIndex;
  emit(event: JobEvent): void;
  /** The concurrency slots of the tool `name`. */
  slots(name: string): ToolSlots;
}

/**
 * Creates the job `id`, or finds it there already: the snapshot of the new job, or `undefined` when the
 * store had the promise (whose pending task, if any, this process may now be running).
 */
export async function createJob(
  deps: CreationDeps,
  tool: AnyAsyncTool,
  id: string,
  input: unknown,
  principal: string | undefined,
  trace: TraceContext | undefined,
): Promise<JobSnapshot | undefined> {
  const now = Date.now();
  const creating = { runTag: randomUUID(), made: false };
  Object.assign(deps.jobs.of(id), { creating, launching: { trace } });
  try {
    await deps.resonate.run(
      id,
      tool.name,
      input,
      deps.resonate.options({
        timeout: tool.timeoutMs,
        version: tool.version,
        retryPolicy: new Never(),
        tags: {
          [TOOL_TAG]: tool.name,
          [RUN_TAG]: creating.runTag,
          ...(principal === undefined ? {} : { [PRINCIPAL_TAG]: principal }),
          ...(trace === undefined ? {} : { [TRACEPARENT_TAG]: trace.traceparent }),
          ...(trace?.tracestate === undefined ? {} : { [TRACESTATE_TAG]: trace.tracestate }),
        },
      }),
    );
  } catch (error) {
    deps.jobs.drop(id, "launching");
    throw error;
  } finally {
    deps.jobs.drop(id, "creating");
  }
  if (!creating.made) return undefined;
  // The durable promise is the job; its metadata row comes second and off the answer's path, so a store
  // that refuses the job (a full disk) leaves nothing behind, and a row that cannot be written costs
  // listing, never the job.
  deps.meta.recordSoon(id, tool.name, now, principal ?? "");
  deps.emit({ kind: "started", jobId: id, tool: tool.name, trace });
  const snapshot: JobSnapshot = { jobId: id, status: "working", tool: tool.name, createdAt: iso(now) };
  const place = await deps.slots(tool.name).position(id);
  if (place !== undefined) Object.assign(snapshot, { status: "queued", queuePosition: place });
  return snapshot;
}

/**
 * What a creation of this process found ({@link observeTaskCreate}), before the SDK executes anything: a
 * job that was there already is not "launched" by this start, so its first execution here re-validates
 * the stored input like any resumed job.
 */
export function creationFound(jobs: LocalJobs, outcome: CreateOutcome): void {
  const creating = jobs.get(outcome.id)?.creating;
  if (creating === undefined) return;
  if (outcome.stored?.[RUN_TAG] === creating.runTag) creating.made = true;
  else jobs.drop(outcome.id, "launching");
}

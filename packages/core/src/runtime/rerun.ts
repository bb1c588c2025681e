/**
 * A fresh run of a job that failed or was cancelled, with the input it was started with. A runtime that
 * runs the job's tool starts it as `start(tool, input, { fresh: true })` would; one that does not (the CLI
 * on a stopped store) creates the run as work for the tool's worker group, which the next server that runs
 * the tool picks up, exactly like a job a crash left unfinished.
 */
import { Codec, Never } from "@resonatehq/sdk";
import type { Resonate } from "@resonatehq/sdk/async";
import { DEFAULTS } from "../defaults.ts";
import { AsyncToolsError } from "../errors.ts";
import { baseIdOf, runId } from "../job-id.ts";
import type { JobIndex } from "../store/store.ts";
import { PRINCIPAL_TAG } from "../store/store.ts";
import { type CallerScope, type StartedJob, TOOL_TAG } from "./job.ts";
import type { JobEngine } from "./job-engine.ts";
import type { PromiseClient, PromiseRecord } from "./promise-client.ts";

/** What a rerun needs from the runtime. */
export interface RerunDeps {
  engine: JobEngine;
  promises: PromiseClient;
  resonate: Resonate;
  meta: JobIndex;
}

/** Statuses a job may be retried from. */
const RETRYABLE = new Set(["failed", "cancelled"]);

/** Retries in flight in a process, by engine and job (without its run mark): a second one waits for the first. */
const inFlight = new WeakMap<JobEngine, Map<string, Promise<unknown>>>();

/**
 * Starts a fresh run of `id` when it failed or was cancelled; otherwise returns its state with
 * `created: false` (a job still running, completed, unknown or expired is left as it is). Idempotent: when
 * a newer run of the job is queued, running or completed, that run is returned, so two clicks on Retry
 * start one run. The new run belongs to the same principal as the job, whoever asks (an operator may retry
 * anyone's job).
 */
export async function rerunJob(deps: RerunDeps, id: string, scope: CallerScope = {}): Promise<StartedJob> {
  const base = baseIdOf(id);
  const retries = inFlight.get(deps.engine) ?? new Map<string, Promise<unknown>>();
  inFlight.set(deps.engine, retries);
  for (let earlier = retries.get(base); earlier !== undefined; earlier = retries.get(base)) {
    await earlier.catch(() => undefined);
  }
  const retry = rerunOnce(deps, id, scope);
  retries.set(base, retry);
  try {
    return await retry;
  } finally {
    retries.delete(base);
  }
}

async function rerunOnce(deps: RerunDeps, id: string, scope: CallerScope): Promise<StartedJob> {
  const newest = await newestRunOf(deps, id);
  if (newest !== id) {
    const latest = await deps.engine.snapshot(newest, false, scope);
    if (!RETRYABLE.has(latest.status) && latest.status !== "not_found") return { ...latest, created: false };
  }
  const current = await deps.engine.snapshot(id, false, scope);
  const record = current.status === "not_found" ? undefined : await deps.promises.get(id);
  if (record === undefined || !RETRYABLE.has(current.status) || current.tool === undefined) {
    return { ...current, created: false };
  }
  const input = deps.promises.args(record);
  const principal = record.tags?.[PRINCIPAL_TAG];
  const local = deps.engine.definition(current.tool);
  if (local !== undefined) {
    return deps.engine.start(local, local.input.parse(input), {
      fresh: true,
      ...(principal === undefined ? {} : { principal }),
    });
  }
  return enqueue(deps, record, current.tool, input);
}

/** Creates the next free run of `record`'s job for its worker group, with the same function and version. */
async function enqueue(
  deps: RerunDeps,
  record: PromiseRecord,
  tool: string,
  input: unknown,
): Promise<StartedJob> {
  const param = decodeParam(record);
  const base = baseIdOf(record.id);
  const timeoutMs =
    record.createdAt === undefined ? DEFAULTS.jobTimeoutMs : record.timeoutAt - record.createdAt;
  for (let n = 1; n <= DEFAULTS.maxRuns; n += 1) {
    const id = runId(base, n);
    if ((await deps.promises.get(id)) !== undefined) continue;
    const now = Date.now();
    await deps.resonate.rpc(
      id,
      param.func ?? tool,
      input,
      deps.resonate.options({
        timeout: timeoutMs,
        version: param.version ?? 1,
        retryPolicy: new Never(),
        tags: {
          [TOOL_TAG]: tool,
          ...(record.tags?.[PRINCIPAL_TAG] === undefined
            ? {}
            : { [PRINCIPAL_TAG]: record.tags[PRINCIPAL_TAG] }),
        },
        ...(record.tags?.["resonate:target"] ? { target: record.tags["resonate:target"] } : {}),
      }),
    );
    deps.meta.recordSoon(id, tool, now, record.tags?.[PRINCIPAL_TAG] ?? "");
    return { jobId: id, status: "queued", tool, createdAt: new Date(now).toISOString(), created: true };
  }
  throw new AsyncToolsError(
    "TOO_MANY_RUNS",
    `job ${base} has been run ${DEFAULTS.maxRuns} times; refusing to start another`,
  );
}

/** The ID of the newest run of `id`'s job there is (`id` itself when no later run exists). */
async function newestRunOf(deps: RerunDeps, id: string): Promise<string> {
  const base = baseIdOf(id);
  let newest = id;
  for (let n = 2; n <= DEFAULTS.maxRuns; n += 1) {
    const run = runId(base, n);
    if ((await deps.promises.get(run)) === undefined) break;
    newest = run;
  }
  return newest;
}

function decodeParam(record: PromiseRecord): { func?: string; version?: number } {
  try {
    const param = new Codec().decode(record.param as never) as { func?: unknown; version?: unknown };
    return {
      ...(typeof param?.func === "string" ? { func: param.func } : {}),
      ...(typeof param?.version === "number" ? { version: param.version } : {}),
    };
  } catch {
    return {};
  }
}

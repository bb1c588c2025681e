/**
 * The requests a served store answers beyond Resonate's own protocol: the job index (`asyncTools.jobs.*`)
 * and the step log (`asyncTools.steps.*`), in Resonate's envelope (`{kind, head: {corrId, version}, data}` in, `{kind, head: {corrId, status}, data}`
 * out), so one POST endpoint and one token guard both.
 */
import { randomUUID } from "node:crypto";
import type { Request } from "@resonatehq/sdk";
import type { JobListOptions, JobMetaRow, JobRecord, SettledJob, StepRow } from "./store.ts";

/** Each job-index request kind, with what it carries and what a 200 answer carries. */
export interface JobsProtocol {
  "asyncTools.jobs.record": {
    data: { rows: JobRecord[] };
    result: Record<string, never>;
  };
  "asyncTools.jobs.progress": {
    data: { id: string; tool: string; fraction: number; message?: string; updatedAt: number };
    result: Record<string, never>;
  };
  "asyncTools.jobs.get": { data: { id: string }; result: { row: JobMetaRow | null } };
  "asyncTools.jobs.list": {
    data: JobListOptions;
    result: { rows: JobMetaRow[]; next?: number };
  };
  "asyncTools.jobs.prune": { data: { before: number }; result: { count: number } };
  /** Which of these jobs (a process's running ones) are settled: one request for all of them. */
  "asyncTools.jobs.settled": { data: { ids: string[] }; result: { settled: SettledJob[] } };
}

/** Each step-log request kind, with what it carries and what a 200 answer carries. */
export interface StepsProtocol {
  "asyncTools.steps.begin": {
    data: { jobId: string; stepId: string; name: string; now: number };
    result: { attempt: number };
  };
  "asyncTools.steps.end": {
    data: { jobId: string; stepId: string; attempt: number; now: number; error?: string };
    result: Record<string, never>;
  };
  "asyncTools.steps.retryAt": {
    data: { jobId: string; stepId: string; attempt: number; at: number };
    result: Record<string, never>;
  };
  "asyncTools.steps.list": { data: { jobId: string }; result: { steps: StepRow[] } };
  "asyncTools.steps.prune": { data: { before: number }; result: { count: number } };
  "asyncTools.steps.forget": { data: { jobId: string }; result: Record<string, never> };
}

/** Every request async-tools adds to a served store, by kind. */
export type AsyncToolsProtocol = JobsProtocol & StepsProtocol;

/** A job-index request kind. */
export type JobsKind = keyof JobsProtocol;

/** A request kind async-tools adds (job index or step log). */
export type AsyncToolsKind = keyof AsyncToolsProtocol;

/** The prefix every job-index request kind starts with. */
export const JOBS_PREFIX = "asyncTools.jobs.";

/** The prefix every step-log request kind starts with. */
export const STEPS_PREFIX = "asyncTools.steps.";

/** An envelope as it travels, before its kind is known. */
export interface Envelope {
  kind: string;
  head: { corrId: string; version?: string; status?: number; auth?: string };
  data: unknown;
}

/** Whether `value` has the shape of a request envelope. */
export function isEnvelope(value: unknown): value is Envelope {
  if (typeof value !== "object" || value === null) return false;
  const { kind, head } = value as Partial<Envelope>;
  return (
    typeof kind === "string" &&
    typeof head === "object" &&
    head !== null &&
    typeof (head as { corrId?: unknown }).corrId === "string"
  );
}

/** The Resonate request of one kind. */
export type ResonateRequest<K extends Request["kind"]> = Extract<Request, { kind: K }>;

/**
 * A Resonate protocol request with a fresh correlation id, typed by its kind: the one place that builds
 * the envelope, so callers never cast.
 *
 * @example
 * ```ts
 * const res = await network.send(resonateRequest("promise.get", { id: jobId }));
 * ```
 */
export function resonateRequest<K extends Request["kind"]>(
  kind: K,
  data: ResonateRequest<K>["data"],
): ResonateRequest<K> {
  return { kind, head: { corrId: randomUUID(), version: "" }, data } as ResonateRequest<K>;
}

/**
 * The SSE event that carries the store's change feed on the message stream of a process that joined a store
 * file (`GET /poll/{group}/{pid}?changes=1&what=1`); its data is `ChangedJobs` as JSON (without `&what=1`, as
 * an older joiner asks: the jobs' IDs alone, or `"any"`).
 */
export const CHANGES_EVENT = "changes";

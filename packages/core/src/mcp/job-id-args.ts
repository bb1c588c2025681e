/**
 * Lenient parsing of the job IDs a model sends. Models often send a JSON string instead of an array, a single
 * ID, or objects like `{ job_id: "…" }`; all of those are accepted, anything else gets a message that shows the
 * expected shape.
 */
import { z } from "zod";
import { DEFAULTS } from "../defaults.ts";

const ID_KEYS = ["job_id", "job_name", "jobId", "jobName", "id", "task_id", "taskId", "name"];

/** Most IDs one probe, await or cancel call takes. */
export const MAX_IDS_PER_CALL = DEFAULTS.maxIdsPerCall;

/** The zod schema advertised for a job IDs field: a list of IDs, or one ID, or objects carrying one. */
export function jobIdsSchema(field: string, example: string) {
  // An object naming a job, as models sometimes send; typed (not a free-form record) so every client can map it.
  const named = z.object({ job_id: z.string().optional(), id: z.string().optional() });
  const item = z.union([z.string(), named]);
  return z
    .union([z.array(item), z.string(), named], {
      error: `${field} must be a list of job IDs, e.g. ${JSON.stringify([example])}`,
    })
    .describe(
      `The job IDs to look at, as a list: ${JSON.stringify([example])}. A single ID is accepted too.`,
    );
}

/** Outcome of {@link normalizeJobIds}: the distinct IDs in order, or a message for the model. */
export type NormalizedIds = { ok: true; ids: string[] } | { ok: false; message: string };

function fromObject(value: Record<string, unknown>): string | undefined {
  for (const key of ID_KEYS) {
    const candidate = value[key];
    if (typeof candidate === "string" && candidate.trim() !== "") return candidate.trim();
  }
  return undefined;
}

function collect(value: unknown, out: string[], depth: number): boolean {
  if (depth > 3) return false;
  if (typeof value === "string") {
    const text = value.trim();
    if (text === "") return true;
    if (text.startsWith("[") || text.startsWith("{") || text.startsWith('"')) {
      try {
        return collect(JSON.parse(text), out, depth + 1);
      } catch {
        return false;
      }
    }
    if (text.includes(",")) {
      for (const part of text.split(",")) collect(part, out, depth + 1);
      return true;
    }
    out.push(text);
    return true;
  }
  if (Array.isArray(value)) return value.every((item) => collect(item, out, depth + 1));
  if (value !== null && typeof value === "object") {
    const record = value as Record<string, unknown>;
    for (const key of ["job_ids", "job_names", "ids", "jobs"]) {
      if (key in record) return collect(record[key], out, depth + 1);
    }
    const id = fromObject(record);
    if (id === undefined) return false;
    out.push(id);
    return true;
  }
  return false;
}

/**
 * Turns whatever a model sent as job IDs into a list of distinct IDs.
 *
 * @example
 * ```ts
 * normalizeJobIds('["a","b"]', "job_ids", "x");       // { ok: true, ids: ["a", "b"] }
 * normalizeJobIds([{ job_id: "a" }], "job_ids", "x"); // { ok: true, ids: ["a"] }
 * ```
 */
export function normalizeJobIds(raw: unknown, field: string, example: string): NormalizedIds {
  const shape = `Send ${field} as a list of job IDs, e.g. {"${field}": ${JSON.stringify([example])}}.`;
  const ids: string[] = [];
  if (!collect(raw, ids, 0)) {
    return { ok: false, message: `Could not read ${field} from ${preview(raw)}. ${shape}` };
  }
  const distinct = [...new Set(ids)];
  if (distinct.length === 0) return { ok: false, message: `${field} is empty. ${shape}` };
  if (distinct.length > MAX_IDS_PER_CALL) {
    return {
      ok: false,
      message: `${field} holds ${distinct.length} IDs; at most ${MAX_IDS_PER_CALL} fit in one call. Split them into several calls.`,
    };
  }
  const tooLong = distinct.find((id) => id.length > 512);
  if (tooLong !== undefined)
    return {
      ok: false,
      message: `A job ID is ${tooLong.length} characters long; job IDs are short. ${shape}`,
    };
  return { ok: true, ids: distinct };
}

function preview(raw: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(raw) ?? String(raw);
  } catch {
    text = String(raw);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/**
 * Canonical input -> stable job ID, the one home of job IDs: the same arguments, in any key order, always name
 * the same job, so a retried `start` joins the job it already started instead of running the work twice; and
 * a fresh run of a job (a start with `fresh`, a retry) is the next run number of the same base ID.
 */
import { createHash } from "node:crypto";

/**
 * Serializes a JSON-like value with object keys sorted at every depth, so that two inputs that differ only in
 * key order serialize identically. `undefined` properties are dropped, like `JSON.stringify` does.
 *
 * @example
 * ```ts
 * canonicalJson({ b: 2, a: 1 }) === canonicalJson({ a: 1, b: 2 }); // true
 * ```
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) return JSON.stringify(String(value));
    if (typeof value === "bigint") return JSON.stringify(value.toString());
    return JSON.stringify(value) ?? "null";
  }
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item ?? null)).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined && typeof v !== "function")
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

/** Characters a job ID may hold: Resonate reserves `:` in root IDs, and IDs travel through URLs and logs. */
const SAFE = /[^A-Za-z0-9_.-]/g;

/** Makes `raw` safe to embed in a job ID: anything outside `[A-Za-z0-9_.-]` becomes `_`. */
export function sanitizeIdPart(raw: string): string {
  return raw.replace(SAFE, "_");
}

/**
 * The default job ID: the tool's name and the first 16 hex digits (64 bits) of the SHA-256 of the canonical
 * validated input, e.g. `weather_data-3f2a9c1e0b7d4a55`. A principal (an authenticated caller), when given,
 * joins the hash, so two callers' same input names two jobs; without one the ID is the input's alone.
 */
export function defaultJobId(toolName: string, input: unknown, principal?: string): string {
  const hash = createHash("sha256").update(canonicalJson(input));
  if (principal !== undefined) hash.update(`\u0000principal:${principal}`);
  return `${sanitizeIdPart(toolName)}-${hash.digest("hex").slice(0, 16)}`;
}

/** What a custom job ID gets appended for a principal: 16 hex digits of its SHA-256, never the principal. */
function principalSuffix(principal: string): string {
  return `-${createHash("sha256").update(`principal:${principal}`).digest("hex").slice(0, 16)}`;
}

/** What the job ID needs of a definition: its name and, when it has one, its own ID for an input. */
export interface JobIdSource {
  name: string;
  jobId?: ((input: never) => string) | undefined;
}

/**
 * The base job ID `tool` gives a validated `input` (run 1's ID): `name-<hash>`, or `name-<jobId(input)>` for a
 * definition with its own IDs. With a principal, another principal's same input is another job: the
 * principal joins the hash or, for a custom ID, adds a suffix.
 */
export function jobIdFor(tool: JobIdSource, input: unknown, principal?: string): string {
  if (tool.jobId === undefined) return defaultJobId(tool.name, input, principal);
  const custom = sanitizeIdPart(String((tool.jobId as (input: unknown) => string)(input)));
  const base = `${sanitizeIdPart(tool.name)}-${custom}`;
  return principal === undefined ? base : base + principalSuffix(principal);
}

/** Separator between a job ID and the run number of a fresh run of the same input. */
const RUN_MARK = ".r";

/** The ID of run number `n` (1-based) of the job `base`: run 1 is `base` itself, run 2 is `base.r2`. */
export function runId(base: string, n: number): string {
  return n <= 1 ? base : `${base}${RUN_MARK}${n}`;
}

/** The job ID without its run mark: `tool-abc.r3` → `tool-abc`. */
export function baseIdOf(id: string): string {
  return id.replace(/\.r\d+$/, "");
}

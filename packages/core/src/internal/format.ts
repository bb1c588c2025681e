/**
 * How the faces (CLI, dashboard) write jobs for people: relative times, short durations, short inputs and
 * plain aligned tables, why a job did not complete. Nothing here decides anything; it only formats.
 */
import type { AnswerProblem, JobError } from "../errors.ts";

/** `5s ago`, `3m ago`, `2h ago`, `4d ago`; `in 3s` for a time ahead; `just now` under a second. */
export function relativeTime(iso: string | undefined, now: number): string {
  if (iso === undefined) return "-";
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return "-";
  const delta = now - at;
  if (Math.abs(delta) < 1000) return "just now";
  // One unit is enough to place a time: "24m ago", not "24m 29s ago".
  const text = shortDuration(Math.abs(delta), false).split(" ")[0];
  return delta > 0 ? `${text} ago` : `in ${text}`;
}

/**
 * `850ms`, `4.2s`, `3m 10s`, `2h 5m`, `3d 4h`: two units at most. `precise` keeps milliseconds and tenths of
 * a second, for step durations.
 */
export function shortDuration(ms: number, precise = true): string {
  if (!Number.isFinite(ms) || ms < 0) return "-";
  if (ms < 1000) return precise ? `${Math.round(ms)}ms` : "0s";
  const s = ms / 1000;
  if (s < 60) return precise && s < 10 ? `${s.toFixed(1)}s` : `${Math.floor(s)}s`;
  const units: [string, number][] = [
    ["d", 86_400],
    ["h", 3600],
    ["m", 60],
    ["s", 1],
  ];
  let rest = Math.floor(s);
  const parts: string[] = [];
  for (const [unit, size] of units) {
    if (rest >= size || parts.length > 0) {
      const n = Math.floor(rest / size);
      rest -= n * size;
      if (n > 0 || parts.length > 0) parts.push(`${n}${unit}`);
    }
    if (parts.length === 2) break;
  }
  return parts.join(" ");
}

/** The times of a job (a `JobSnapshot`'s), which is all a duration needs. */
interface JobTimes {
  status: string;
  createdAt?: string | undefined;
  completedAt?: string | undefined;
}

/** How long a job ran (finished jobs) or has been running (the others), in ms. */
export function jobDurationMs(job: JobTimes, now: number): number | undefined {
  // An expired job's end is gone with it.
  if (job.createdAt === undefined || job.status === "expired") return undefined;
  const end = job.completedAt === undefined ? now : Date.parse(job.completedAt);
  return end - Date.parse(job.createdAt);
}

/**
 * Why a job did not complete or cannot be read, for people (the CLI, the dashboard, the logs), e.g. `The job
 * timed out after 60 s before it finished.`; `undefined` when it has no error.
 */
export function jobErrorText(job: { jobId: string; error: JobError }): string;
export function jobErrorText(job: { jobId: string; error?: JobError | undefined }): string | undefined;
export function jobErrorText(job: { jobId: string; error?: JobError | undefined }): string | undefined {
  const { error } = job;
  switch (error?.code) {
    case undefined:
      return undefined;
    case "not_found":
      return `No job has the ID ${job.jobId}.`;
    case "expired":
      return "It finished long ago; its result was removed by the retention policy.";
    case "failed":
      return error.message ?? "The job failed.";
    case "cancelled":
      return error.reason ?? "cancelled";
    case "timed_out": {
      const after = error.timeoutMs === undefined ? "" : ` after ${Math.round(error.timeoutMs / 1000)} s`;
      return `The job timed out${after} before it finished.`;
    }
    case "version_gone":
      return `Started by version ${error.version}, which no process runs now (this one runs ${error.versions.join(", ")}).`;
    case "input_mismatch":
      return `Its input no longer matches version ${error.version}: ${error.issues.join("; ")}.`;
  }
}

/** Why answers to the questions of job `jobId` were refused, in a sentence (for people and models alike). */
export function answerProblemText(jobId: string, problem: AnswerProblem): string {
  switch (problem.code) {
    case "no_answers":
      return "No answers given: pass at least one question ID with its answer.";
    case "not_asking":
      return `Job ${jobId} is ${problem.status}; it asks nothing now.`;
    case "no_such_question":
      return `Job ${jobId} has no open question ${problem.questionId}. ${
        problem.open.length === 0
          ? "It is waiting on no question now."
          : `Its open questions: ${problem.open.join(", ")}.`
      }`;
    case "refused":
      return `Answer to ${problem.questionId} refused: ${problem.issue}`;
    case "closed":
      return `Question ${problem.questionId} was answered or timed out meanwhile.`;
  }
}

/** A value on one line, cut to `max` characters with an ellipsis. */
export function shortText(value: unknown, max = 60): string {
  const text = typeof value === "string" ? value : (JSON.stringify(value) ?? "");
  const line = text.replace(/\s+/g, " ");
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

/** Parses `30s`, `15m`, `2h`, `7d` (or plain milliseconds) into ms; `undefined` when it is none of them. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?$/i.exec(text.trim());
  if (match === null) return undefined;
  const n = Number(match[1]);
  const unit = (match[2] ?? "ms").toLowerCase();
  const factor: Record<string, number> = {
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
    d: 86_400_000,
    w: 604_800_000,
  };
  return n * (factor[unit] as number);
}

/** Parses `--since`: a duration back from now (`1h`) or a date (`2026-01-31`, ISO 8601); epoch ms. */
export function parseSince(text: string, now: number): number | undefined {
  const ago = parseDuration(text);
  if (ago !== undefined && /[a-z]$/i.test(text.trim())) return now - ago;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : at;
}

/** `[####------] 40%`, `width` characters of bar. */
export function progressBar(fraction: number | undefined, width = 10): string {
  if (fraction === undefined) return "";
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `${"#".repeat(filled)}${"-".repeat(width - filled)} ${Math.round(fraction * 100)}%`;
}

/** Rows as a left-aligned table under a header; columns two spaces apart; trailing spaces trimmed. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

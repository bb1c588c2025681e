/**
 * The demo's progress view: polls probe_status and shows each job's status, progress, message and elapsed
 * time, redrawn in place on a live terminal, or as one plain line per change elsewhere (pipes, CI).
 */
import { DemoError } from "./demo-error.ts";
import { type Cell, type Column, renderHeader, renderRow } from "./table.ts";
import type { Style, Terminal } from "./terminal.ts";
import type { JobStatus, JobView, WeatherServer } from "./weather-server.ts";

/** A job to watch: how to label it and when its clock started. */
export interface WatchedJob {
  label: string;
  jobName: string;
  since: number;
}

/** How often and how long to watch. */
export interface WatchOptions {
  intervalMs?: number;
  timeoutMs?: number;
}

interface JobLine {
  view: JobView;
  endedAt?: number;
}

const BAR_WIDTH = 10;
const STATUS_STYLE: Record<JobStatus, Style> = {
  working: "yellow",
  completed: "green",
  failed: "red",
  cancelled: "red",
  not_found: "red",
  expired: "red",
};

const HIDE_CURSOR = "\x1b[?25l";
/** Shows the cursor again: a live view hides it, and an interrupted demo must give it back. */
export const SHOW_CURSOR = "\x1b[?25h";
const CLEAR_LINE = "\x1b[2K";
const up = (lines: number) => `\x1b[${lines}A`;

function percent(line: JobLine): number {
  if (line.view.status === "completed") return 100;
  return Math.round((line.view.progress?.fraction ?? 0) * 100);
}

function message(line: JobLine): string {
  if (line.view.status === "working") return line.view.progress?.message ?? "";
  return line.view.error ?? "";
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function bar(fraction: number): string {
  const filled = Math.round(fraction * BAR_WIDTH);
  return "█".repeat(filled) + "░".repeat(BAR_WIDTH - filled);
}

/**
 * Watches `jobs` until none is working, and returns their last probe. Throws a {@link DemoError} when they
 * are still working after `timeoutMs` (default 90 s).
 *
 * @example
 * ```ts
 * await watchJobs(term, server, [{ label: "Calgary", jobName: started.job_name, since: Date.now() }]);
 * ```
 */
export async function watchJobs(
  term: Terminal,
  server: WeatherServer,
  jobs: readonly WatchedJob[],
  options: WatchOptions = {},
): Promise<JobView[]> {
  const intervalMs = options.intervalMs ?? 150;
  const timeoutMs = options.timeoutMs ?? 90_000;
  const columns: Column[] = [
    { header: "City" },
    { header: "Status" },
    ...(term.live ? [{ header: "", style: "cyan" as const }] : []),
    { header: "Done", align: "right" },
    { header: "Message" },
    { header: "Elapsed", align: "right" },
    { header: "Job name", style: "dim" },
  ];
  const widths = [
    Math.max(4, ...jobs.map((job) => job.label.length)),
    "completed".length,
    ...(term.live ? [BAR_WIDTH] : []),
    "100%".length,
    "asking Open-Meteo".length,
    "100.0 s".length,
    Math.max(...jobs.map((job) => job.jobName.length)),
  ];
  const maxWidth = () => (term.live && term.columns ? term.columns - 1 : undefined);
  const row = (job: WatchedJob, line: JobLine, now: number): string => {
    const cells: Cell[] = [
      job.label,
      { text: line.view.status, style: STATUS_STYLE[line.view.status] },
      ...(term.live ? [bar(percent(line) / 100)] : []),
      `${percent(line)}%`,
      message(line),
      seconds((line.endedAt ?? now) - job.since),
      job.jobName,
    ];
    return renderRow(term, columns, widths, cells, maxWidth());
  };

  const lines = new Map<string, JobLine>();
  const printed = new Map<string, string>();
  const began = Date.now();
  let drawn = false;
  if (term.live) term.write(HIDE_CURSOR);
  try {
    for (;;) {
      const views = await server.probe(jobs.map((job) => job.jobName));
      const now = Date.now();
      for (const view of views) {
        const previous = lines.get(view.job_name);
        const endedAt = view.status === "working" ? undefined : (previous?.endedAt ?? now);
        lines.set(view.job_name, endedAt === undefined ? { view } : { view, endedAt });
      }
      const shown = jobs.flatMap((job) => {
        const line = lines.get(job.jobName);
        return line ? [{ job, line }] : [];
      });
      if (term.live) {
        const text = [
          renderHeader(term, columns, widths, maxWidth()),
          ...shown.map((s) => row(s.job, s.line, now)),
        ];
        term.write(`${drawn ? up(text.length) : ""}${text.map((t) => `${CLEAR_LINE}${t}\n`).join("")}`);
      } else {
        if (!drawn) term.line(renderHeader(term, columns, widths));
        for (const { job, line } of shown) {
          const key = `${line.view.status}|${percent(line)}|${message(line)}`;
          if (printed.get(job.jobName) === key) continue;
          printed.set(job.jobName, key);
          term.line(row(job, line, now));
        }
      }
      drawn = true;
      if (views.every((view) => view.status !== "working")) return views;
      if (now - began > timeoutMs) {
        const working = shown.filter((s) => s.line.view.status === "working").map((s) => s.job.label);
        throw new DemoError(`${working.join(", ")} still working after ${seconds(timeoutMs)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  } finally {
    if (term.live) term.write(SHOW_CURSOR);
  }
}

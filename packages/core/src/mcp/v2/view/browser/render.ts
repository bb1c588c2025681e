/**
 * The job view's DOM: a job's status, progress, steps, question and result, drawn into the page's fixed
 * sections on every poll. Server data goes in as text; only a definition's own renderer returns HTML.
 */
import type { RenderKit } from "../../../../define.ts";
import type { ViewJob } from "../protocol.ts";

/** A definition's result renderer, as the page's script defines it. */
export type Renderer = (result: unknown, kit: RenderKit) => string;

const FINISHED = new Set(["completed", "failed", "cancelled", "not_found", "expired"]);

/** Whether the view stops polling `job`. */
export function isFinished(job: ViewJob): boolean {
  return FINISHED.has(job.status);
}

/** Builds an element with a class and text, the view's one way of putting server data on the page. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className !== undefined) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Escapes text for HTML, for renderers. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c,
  );
}

/** The status line: tool, job ID, status badge, and what the job waits for. */
export function renderHeader(target: HTMLElement, job: ViewJob): void {
  const title = el("div", "title");
  title.append(el("strong", "tool", job.tool ?? "job"), el("code", "id", job.jobId));
  const status = el("span", "status", job.status.replace("_", " "));
  status.dataset.status = job.status;
  title.append(status);
  const lines: HTMLElement[] = [title];
  if (job.queuePosition !== undefined) {
    lines.push(el("p", "note", `Waiting for a free slot: ${job.queuePosition} ahead.`));
  }
  if (job.retrying !== undefined && !isFinished(job)) {
    const { step, attempt, attempts, error, nextAttemptAt } = job.retrying;
    lines.push(
      el(
        "p",
        "note retrying",
        `Step “${step}” failed (attempt ${attempt} of ${attempts}: ${error}); next attempt at ${time(nextAttemptAt)}.`,
      ),
    );
  }
  target.replaceChildren(...lines);
}

/** The progress bar and message, while the job runs and once it completed. */
export function renderProgress(target: HTMLElement, job: ViewJob): void {
  const fraction = job.status === "completed" ? 1 : (job.progress?.fraction ?? 0);
  const percent = Math.round(fraction * 100);
  const bar = el("div", "bar");
  bar.setAttribute("role", "progressbar");
  bar.setAttribute("aria-valuemin", "0");
  bar.setAttribute("aria-valuemax", "100");
  bar.setAttribute("aria-valuenow", String(percent));
  const fill = el("div", "fill");
  fill.style.width = `${percent}%`;
  bar.append(fill);
  const message =
    job.status === "completed"
      ? "done"
      : (job.progress?.message ?? (job.status === "queued" ? "queued" : ""));
  target.replaceChildren(bar, el("span", "message", message ? `${percent}% · ${message}` : `${percent}%`));
  target.hidden = job.status === "not_found" || job.status === "expired";
}

/** The steps in the order they started, each with its attempts (failures, retries, interruptions). */
export function renderSteps(target: HTMLElement, job: ViewJob): void {
  if (job.steps.length === 0) {
    target.replaceChildren();
    target.hidden = true;
    return;
  }
  const list = el("ol", "steps");
  for (const step of job.steps) {
    const item = el("li", "step");
    item.dataset.status = step.status;
    const head = el("div", "step-head");
    const attempts = step.attempts.length;
    head.append(
      el("span", "name", step.name),
      el("span", `outcome ${step.status}`, step.status),
      el("span", "attempts", attempts === 1 ? "1 attempt" : `${attempts} attempts`),
    );
    item.append(head);
    const troubled = step.attempts.filter((a) => a.error !== undefined || a.outcome === "interrupted");
    if (troubled.length > 0) {
      const rows = el("ul", "attempts");
      for (const attempt of troubled) {
        const row = el("li", "attempt");
        const error = attempt.error === undefined ? "" : `: ${attempt.error}`;
        const retry = attempt.retryAt === undefined ? "" : `, retried at ${time(attempt.retryAt)}`;
        row.textContent = `#${attempt.attempt} ${attempt.outcome}${error}${retry}`;
        rows.append(row);
      }
      item.append(rows);
    }
    list.append(item);
  }
  target.replaceChildren(el("h2", undefined, "Steps"), list);
  target.hidden = false;
}

/** The question a job waits on for a person, shown only while there is one. */
export function renderQuestion(target: HTMLElement, job: ViewJob): void {
  const question = job.question;
  target.hidden = question === undefined;
  if (question === undefined) {
    target.replaceChildren();
    return;
  }
  target.replaceChildren(el("h2", undefined, "Waiting for your answer"), el("p", "ask", question.message));
}

/**
 * The outcome: the result through the definition's renderer (or as a table of its fields), with the raw
 * JSON behind one click; or the error of a failed or cancelled job. Drawn once per finished job.
 */
export function renderOutcome(
  target: HTMLElement,
  job: ViewJob,
  renderer: Renderer | undefined,
  theme: RenderKit["theme"],
): void {
  target.hidden = !isFinished(job);
  if (!isFinished(job)) {
    target.replaceChildren();
    return;
  }
  if (job.status !== "completed") {
    const why = job.status === "not_found" ? "No such job (or not yours)." : (job.error ?? job.status);
    target.replaceChildren(el("h2", undefined, "Outcome"), el("p", "error", why));
    return;
  }
  const shown = el("div", "rendered");
  let fallback = renderer === undefined;
  if (renderer !== undefined) {
    try {
      shown.innerHTML = renderer(job.result, { escape: escapeHtml, theme });
    } catch (error) {
      fallback = true;
      shown.append(el("p", "note", `This tool's renderer failed (${String(error)}); its fields follow.`));
    }
  }
  if (fallback) shown.append(fieldsOf(job.result));
  const raw = el("details", "raw");
  raw.append(el("summary", undefined, "Raw JSON"), el("pre", undefined, JSON.stringify(job.result, null, 2)));
  target.replaceChildren(el("h2", undefined, "Result"), shown, raw);
}

/** A result without a renderer: its top-level fields as a table, or the value itself. */
function fieldsOf(result: unknown): HTMLElement {
  if (typeof result !== "object" || result === null || Array.isArray(result)) {
    return el("p", "value", typeof result === "string" ? result : JSON.stringify(result));
  }
  const table = el("table", "fields");
  for (const [key, value] of Object.entries(result)) {
    const row = el("tr");
    const text = typeof value === "object" && value !== null ? compact(value) : String(value);
    row.append(el("th", undefined, key), el("td", undefined, text));
    table.append(row);
  }
  return table;
}

function compact(value: unknown): string {
  const text = JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 119)}…` : text;
}

function time(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleTimeString();
}

/**
 * The dashboard's HTML, rendered on the server: the page shell, the jobs table (also served alone as a
 * fragment the page polls), the job page and the sign-in form. Every value from a job goes through
 * {@link escapeHtml}; nothing here reads the store.
 */
import { jobDurationMs, relativeTime, shortDuration, shortText } from "../internal/format.ts";
import type { JobDetail } from "../runtime/job-detail.ts";
import { isUnfinished, JOB_STATUSES, type JobSnapshot } from "../runtime/job-engine.ts";
import type { ElicitationRequest } from "../runtime/questions.ts";

/** Escapes text for HTML content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value)
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

/** A job row of the table: the snapshot plus what the list shows beside it. */
export interface JobRow {
  job: JobSnapshot;
  input: unknown;
  attempts: number;
}

/** What every page needs to link and post back. */
export interface PageContext {
  /** The path the dashboard is mounted at, without a trailing slash ("" at the root). */
  base: string;
  /** The CSRF token forms carry. */
  csrf: string;
  /** Who is signed in, shown in the header; `undefined` when the dashboard has no sign-in. */
  who?: string;
  now: number;
  /** How often live parts of the page refresh, in ms. */
  pollMs: number;
}

/** The full page around `body`. */
export function page(ctx: PageContext, title: string, body: string): string {
  const who =
    ctx.who === undefined
      ? ""
      : `<form method="post" action="${ctx.base}/signout" class="who">${escapeHtml(ctx.who)}
          <input type="hidden" name="csrf" value="${escapeHtml(ctx.csrf)}"><button type="submit">Sign out</button></form>`;
  return `<!doctype html>
<html lang="en" data-poll="${ctx.pollMs}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · async-tools</title>
<link rel="stylesheet" href="${ctx.base}/assets/app.css">
<script src="${ctx.base}/assets/app.js" defer></script>
</head>
<body>
<header><a href="${ctx.base}/" class="brand">async-tools</a><span class="title">${escapeHtml(title)}</span>${who}</header>
<main>
${body}
</main>
</body>
</html>`;
}

/** The filters the list page offers. */
export interface ListFilters {
  tool?: string;
  status?: string;
  since?: string;
}

/** Time windows of the list, by query value; the first is the default. */
export const WINDOWS: readonly [string, string, number][] = [
  ["24h", "last 24 hours", 86_400_000],
  ["1h", "last hour", 3_600_000],
  ["7d", "last 7 days", 7 * 86_400_000],
  ["all", "all time", Number.POSITIVE_INFINITY],
];

const STATUSES = JOB_STATUSES.filter((s) => s !== "not_found");

/** The list page: filters, and the table that polls its own fragment. */
export function listPage(
  ctx: PageContext,
  tools: readonly string[],
  filters: ListFilters,
  rows: JobRow[],
): string {
  const option = (value: string, label: string, selected: string | undefined) =>
    `<option value="${escapeHtml(value)}"${value === (selected ?? "") ? " selected" : ""}>${escapeHtml(label)}</option>`;
  const query = new URLSearchParams(
    Object.entries(filters).filter((e): e is [string, string] => typeof e[1] === "string" && e[1] !== ""),
  ).toString();
  return page(
    ctx,
    "Jobs",
    `<form method="get" action="${ctx.base}/" class="filters" data-autosubmit>
  <label>Tool <select name="tool">${option("", "all tools", filters.tool)}${tools
    .map((t) => option(t, t, filters.tool))
    .join("")}</select></label>
  <label>Status <select name="status">${option("", "any status", filters.status)}${STATUSES.map((s) =>
    option(s, s, filters.status),
  ).join("")}</select></label>
  <label>Started <select name="since">${WINDOWS.map(([v, l]) => option(v, l, filters.since ?? "24h")).join("")}</select></label>
  <noscript><button type="submit">Filter</button></noscript>
</form>
<table class="jobs">
<thead><tr><th>Job</th><th>Tool</th><th>Input</th><th>Status</th><th>Progress</th><th>Duration</th><th>Attempts</th><th>Started</th><th></th></tr></thead>
<tbody data-live="${ctx.base}/fragments/rows${query ? `?${escapeHtml(query)}` : ""}">${rowsHtml(ctx, rows)}</tbody>
</table>`,
  );
}

/** The table body: one row per job, newest first. */
export function rowsHtml(ctx: PageContext, rows: JobRow[]): string {
  if (rows.length === 0) return `<tr class="empty"><td colspan="9">No jobs match.</td></tr>`;
  return rows
    .map(({ job, input, attempts }) => {
      const href = `${ctx.base}/job/${encodeURIComponent(job.jobId)}`;
      const duration = jobDurationMs(job, ctx.now);
      return `<tr data-job="${escapeHtml(job.jobId)}" data-status="${escapeHtml(job.status)}">
<td><a href="${escapeHtml(href)}">${escapeHtml(job.jobId)}</a></td>
<td>${escapeHtml(job.tool ?? "-")}</td>
<td class="input" title="${escapeHtml(shortText(input, 500))}">${escapeHtml(shortText(input, 40))}</td>
<td>${badge(job)}</td>
<td>${bar(job)}</td>
<td>${escapeHtml(duration === undefined ? "-" : shortDuration(duration))}</td>
<td class="num">${attempts}</td>
<td>${escapeHtml(relativeTime(job.createdAt, ctx.now))}</td>
<td>${isUnfinished(job.status) ? cancelForm(ctx, job.jobId) : ""}</td>
</tr>`;
    })
    .join("\n");
}

function badge(job: JobSnapshot): string {
  const extra =
    job.retrying !== undefined
      ? ` <span class="hint">retrying ${escapeHtml(job.retrying.step)}</span>`
      : job.queuePosition !== undefined
        ? ` <span class="hint">#${job.queuePosition}</span>`
        : "";
  return `<span class="status ${escapeHtml(job.status)}">${escapeHtml(job.status)}</span>${extra}`;
}

function bar(job: JobSnapshot): string {
  const fraction = job.status === "completed" ? 1 : job.progress?.fraction;
  if (fraction === undefined) return "";
  const percent = Math.round(fraction * 100);
  const message = job.progress?.message ?? "";
  return `<div class="bar" role="progressbar" aria-valuenow="${percent}" aria-valuemin="0" aria-valuemax="100" title="${escapeHtml(message)}"><div style="width:${percent}%"></div></div><span class="pct">${percent}%</span>`;
}

function cancelForm(ctx: PageContext, jobId: string): string {
  return actionForm(ctx, jobId, "cancel", "Cancel");
}

/** A POST button for `action` on a job, carrying the CSRF token. */
function actionForm(ctx: PageContext, jobId: string, action: "cancel" | "retry", label: string): string {
  return `<form method="post" action="${ctx.base}/job/${escapeHtml(encodeURIComponent(jobId))}/${action}" class="${action}">
<input type="hidden" name="csrf" value="${escapeHtml(ctx.csrf)}"><button type="submit">${label}</button></form>`;
}

/** The job page: its fields and step timeline, in a section that polls itself while the job runs. */
export function jobPage(ctx: PageContext, job: JobDetail): string {
  return page(
    ctx,
    job.jobId,
    `<p><a href="${ctx.base}/">← all jobs</a></p>
<section class="job"${isUnfinished(job.status) ? ` data-live="${ctx.base}/fragments/job/${escapeHtml(encodeURIComponent(job.jobId))}"` : ""}>
${jobHtml(ctx, job)}
</section>`,
  );
}

/** The body of the job page. */
export function jobHtml(ctx: PageContext, job: JobDetail): string {
  if (job.status === "not_found") return `<p class="error">${escapeHtml(job.error ?? "No such job.")}</p>`;
  const took = jobDurationMs(job, ctx.now);
  const fields: [string, string][] = [
    ["Tool", escapeHtml(job.tool ?? "-")],
    ["Status", badge(job)],
    [
      "Started",
      `${escapeHtml(relativeTime(job.createdAt, ctx.now))} <time>${escapeHtml(job.createdAt ?? "")}</time>`,
    ],
  ];
  if (job.completedAt !== undefined) {
    fields.push([
      "Finished",
      `${escapeHtml(relativeTime(job.completedAt, ctx.now))} <time>${escapeHtml(job.completedAt)}</time>`,
    ]);
  }
  if (took !== undefined)
    fields.push([job.completedAt ? "Took" : "Running for", escapeHtml(shortDuration(took))]);
  if (job.progress !== undefined || job.status === "completed") {
    fields.push(["Progress", `${bar(job)} ${escapeHtml(job.progress?.message ?? "")}`]);
  }
  const dl = fields.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join("");
  const input =
    job.input === undefined
      ? ""
      : `<h2>Input</h2><pre>${escapeHtml(JSON.stringify(job.input, null, 2))}</pre>`;
  const outcome =
    job.status === "completed"
      ? `<h2>Result</h2><pre class="result">${escapeHtml(JSON.stringify(job.result, null, 2) ?? "")}</pre>`
      : job.error !== undefined
        ? `<h2>Error</h2><pre class="error">${escapeHtml(job.error)}</pre>`
        : "";
  const action = isUnfinished(job.status)
    ? cancelForm(ctx, job.jobId)
    : job.status === "failed" || job.status === "cancelled"
      ? actionForm(ctx, job.jobId, "retry", "Retry")
      : "";
  const actions = action === "" ? "" : `<div class="actions">${action}</div>`;
  return `<dl>${dl}</dl>${questionForms(ctx, job)}${actions}${input}<h2>Steps</h2>${timeline(ctx, job)}${outcome}`;
}

/**
 * A form per elicitation question the job waits on (fields named `field:<name>`), posted to
 * `/job/<id>/answer` with the button's `action`; other kinds are shown for the CLI to answer.
 */
export function questionForms(ctx: PageContext, job: JobDetail): string {
  return (job.questions ?? [])
    .map((q) => {
      if (q.kind !== "elicitation") {
        return `<section class="question"><h2>Waiting for ${escapeHtml(q.kind)}</h2><p class="hint">Answer with <code>async-tools jobs answer ${escapeHtml(job.jobId)}</code>.</p></section>`;
      }
      const request = q.request as ElicitationRequest;
      const required = new Set(request.requestedSchema.required ?? []);
      const fields = Object.entries(request.requestedSchema.properties).map(([name, p]) => {
        const id = `field:${name}`;
        const label = escapeHtml(String(p.title ?? name)) + (required.has(name) ? " *" : "");
        const options = Array.isArray(p.enum) ? p.enum.map(String) : undefined;
        const items = (p.items as { enum?: unknown[] } | undefined)?.enum?.map(String);
        let control: string;
        if (p.type === "boolean") control = `<input type="checkbox" name="${escapeHtml(id)}">`;
        else if (options !== undefined || items !== undefined) {
          const choices = (options ?? items ?? []).map((o) => `<option>${escapeHtml(o)}</option>`).join("");
          control = `<select name="${escapeHtml(id)}"${items !== undefined ? " multiple" : ""}>${choices}</select>`;
        } else {
          const type = p.type === "number" || p.type === "integer" ? "number" : "text";
          control = `<input type="${type}" name="${escapeHtml(id)}"${type === "number" ? ' step="any"' : ""}>`;
        }
        return `<label>${label} ${control}</label>`;
      });
      return `<section class="question"><h2>Question</h2><p>${escapeHtml(request.message)}</p>
<form method="post" action="${ctx.base}/job/${escapeHtml(encodeURIComponent(job.jobId))}/answer">
<input type="hidden" name="csrf" value="${escapeHtml(ctx.csrf)}"><input type="hidden" name="question" value="${escapeHtml(q.id)}">
${fields.join("\n")}
<button type="submit" name="action" value="accept">Submit</button> <button type="submit" name="action" value="decline">Decline</button>
</form></section>`;
    })
    .join("");
}

function timeline(ctx: PageContext, job: JobDetail): string {
  if (job.steps.length === 0) return `<p class="hint">No steps recorded yet.</p>`;
  const rows = job.steps.flatMap((step) =>
    step.attempts.map((a, i) => {
      const retried =
        a.retryAt !== undefined && a.endedAt !== undefined
          ? ` <span class="hint">retried after ${escapeHtml(shortDuration(Date.parse(a.retryAt) - Date.parse(a.endedAt)))}</span>`
          : "";
      return `<tr class="attempt ${escapeHtml(a.outcome)}">
<td>${i === 0 ? escapeHtml(step.name) : ""}</td><td>#${a.attempt}</td>
<td><span class="status ${escapeHtml(a.outcome)}">${escapeHtml(a.outcome)}</span></td>
<td>${escapeHtml(relativeTime(a.startedAt, ctx.now))}</td>
<td>${escapeHtml(a.durationMs === undefined ? "-" : shortDuration(a.durationMs))}</td>
<td>${a.error === undefined ? "" : `<span class="error">${escapeHtml(a.error)}</span>`}${retried}</td></tr>`;
    }),
  );
  return `<table class="steps"><thead><tr><th>Step</th><th>Attempt</th><th>Outcome</th><th>Started</th><th>Duration</th><th>Error</th></tr></thead><tbody>${rows.join("\n")}</tbody></table>`;
}

/** The sign-in form. */
export function signInPage(ctx: PageContext, failed: boolean): string {
  return page(
    { base: ctx.base, csrf: ctx.csrf, now: ctx.now, pollMs: ctx.pollMs },
    "Sign in",
    `<form method="post" action="${ctx.base}/signin" class="signin">
${failed ? `<p class="error">That token is not valid.</p>` : ""}
<label>Token <input type="password" name="token" autocomplete="current-password" required autofocus></label>
<input type="hidden" name="csrf" value="${escapeHtml(ctx.csrf)}">
<button type="submit">Sign in</button>
</form>`,
  );
}

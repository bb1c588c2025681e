/**
 * The dashboard's HTML, rendered on the server with `hono/html`: the page shell, the jobs table (also served
 * alone as a fragment the page polls), the job page and its parts. Every value interpolated into a template is
 * escaped by it; only other templates nest unescaped. Nothing here reads the store.
 */
import { html } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import { jobDurationMs, jobErrorText, relativeTime, shortDuration, shortText } from "../internal/format.ts";
import type { ElicitationRequest, Question } from "../question-types.ts";
import { isUnfinished, JOB_STATUSES, type JobSnapshot } from "../runtime/job.ts";
import type { JobDetail } from "../runtime/job-detail.ts";

/** What a template renders to (synchronous here: no template awaits anything). */
export type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

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
export function page(ctx: PageContext, title: string, body: Html): Html {
  const who =
    ctx.who === undefined
      ? ""
      : html`<form method="post" action="${ctx.base}/signout" class="who">${ctx.who}
          ${csrfField(ctx)}<button type="submit">Sign out</button></form>`;
  return html`<!doctype html>
<html lang="en" data-poll="${ctx.pollMs}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · async-tools</title>
<link rel="stylesheet" href="${ctx.base}/assets/app.css">
<script src="${ctx.base}/assets/app.js" defer></script>
</head>
<body>
<header><a href="${ctx.base}/" class="brand">async-tools</a><span class="title">${title}</span>${who}</header>
<main>
${body}
</main>
</body>
</html>`;
}

/** The hidden field that carries the CSRF token in every form. */
export function csrfField(ctx: PageContext): Html {
  return html`<input type="hidden" name="csrf" value="${ctx.csrf}">`;
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

/** The statuses the list filters by. */
export const STATUSES = JOB_STATUSES.filter((s) => s !== "not_found");

/** The list page: filters, and the table that polls its own fragment. */
export function listPage(
  ctx: PageContext,
  tools: readonly string[],
  filters: ListFilters,
  rows: JobRow[],
): Html {
  const option = (value: string, label: string, selected: string | undefined) =>
    html`<option value="${value}"${value === (selected ?? "") ? html` selected` : ""}>${label}</option>`;
  const query = new URLSearchParams(
    Object.entries(filters).filter((e): e is [string, string] => typeof e[1] === "string" && e[1] !== ""),
  ).toString();
  return page(
    ctx,
    "Jobs",
    html`<form method="get" action="${ctx.base}/" class="filters" data-autosubmit>
  <label>Tool <select name="tool">${option("", "all tools", filters.tool)}${tools.map((t) =>
    option(t, t, filters.tool),
  )}</select></label>
  <label>Status <select name="status">${option("", "any status", filters.status)}${STATUSES.map((s) =>
    option(s, s, filters.status),
  )}</select></label>
  <label>Started <select name="since">${WINDOWS.map(([v, l]) => option(v, l, filters.since ?? "24h"))}</select></label>
  <noscript><button type="submit">Filter</button></noscript>
</form>
<table class="jobs">
<thead><tr><th>Job</th><th>Tool</th><th>Input</th><th>Status</th><th>Progress</th><th>Duration</th><th>Attempts</th><th>Started</th><th></th></tr></thead>
<tbody data-live="${ctx.base}/fragments/rows${query ? `?${query}` : ""}">${rowsHtml(ctx, rows)}</tbody>
</table>`,
  );
}

/** The table body: one row per job, newest first. */
export function rowsHtml(ctx: PageContext, rows: JobRow[]): Html {
  if (rows.length === 0) return html`<tr class="empty"><td colspan="9">No jobs match.</td></tr>`;
  return html`${rows.map(({ job, input, attempts }) => {
    const duration = jobDurationMs(job, ctx.now);
    return html`<tr data-job="${job.jobId}" data-status="${job.status}">
<td><a href="${jobPath(ctx, job.jobId)}">${job.jobId}</a></td>
<td>${job.tool ?? "-"}</td>
<td class="input" title="${shortText(input, 500)}">${shortText(input, 40)}</td>
<td>${badge(job)}</td>
<td>${bar(job)}</td>
<td>${duration === undefined ? "-" : shortDuration(duration)}</td>
<td class="num">${attempts}</td>
<td>${relativeTime(job.createdAt, ctx.now)}</td>
<td>${isUnfinished(job.status) ? actionForm(ctx, job.jobId, "cancel", "Cancel") : ""}</td>
</tr>
`;
  })}`;
}

/** The path of a job's page, or of one of its actions (`cancel`, `retry`). */
export function jobPath(ctx: PageContext, jobId: string, action?: string): string {
  return `${ctx.base}/job/${encodeURIComponent(jobId)}${action === undefined ? "" : `/${action}`}`;
}

function badge(job: JobSnapshot): Html {
  const extra =
    job.retrying !== undefined
      ? html` <span class="hint">retrying ${job.retrying.step}</span>`
      : job.queuePosition !== undefined
        ? html` <span class="hint">#${job.queuePosition}</span>`
        : "";
  return html`<span class="status ${job.status}">${job.status}</span>${extra}`;
}

function bar(job: JobSnapshot): Html | string {
  const fraction = job.status === "completed" ? 1 : job.progress?.fraction;
  if (fraction === undefined) return "";
  const percent = Math.round(fraction * 100);
  return html`<div class="bar" role="progressbar" aria-valuenow="${percent}" aria-valuemin="0" aria-valuemax="100" title="${job.progress?.message ?? ""}"><div style="width:${percent}%"></div></div><span class="pct">${percent}%</span>`;
}

/** A POST button for `action` on a job, carrying the CSRF token. */
export function actionForm(ctx: PageContext, jobId: string, action: string, label: string): Html {
  return html`<form method="post" action="${jobPath(ctx, jobId, action)}" class="${action}">
${csrfField(ctx)}<button type="submit">${label}</button></form>`;
}

/** The job page: its fields and step timeline, in a section that polls itself while the job runs. */
export function jobPage(ctx: PageContext, job: JobDetail): Html {
  const live = isUnfinished(job.status)
    ? html` data-live="${ctx.base}/fragments/job/${encodeURIComponent(job.jobId)}"`
    : "";
  return page(
    ctx,
    job.jobId,
    html`<p><a href="${ctx.base}/">← all jobs</a></p>
<section class="job"${live}>
${jobHtml(ctx, job)}
</section>`,
  );
}

/**
 * The body of the job page. `extra` is rendered after the actions: a part of the page a route adds for some
 * jobs (a question form for a job waiting for input), already escaped.
 */
export function jobHtml(ctx: PageContext, job: JobDetail, extra: Html | string = ""): Html {
  if (job.status === "not_found") return html`<p class="error">${jobErrorText(job) ?? "No such job."}</p>`;
  const took = jobDurationMs(job, ctx.now);
  const fields: [string, Html | string][] = [
    ["Tool", job.tool ?? "-"],
    ["Status", badge(job)],
    ["Started", html`${relativeTime(job.createdAt, ctx.now)} <time>${job.createdAt ?? ""}</time>`],
  ];
  if (job.completedAt !== undefined) {
    fields.push([
      "Finished",
      html`${relativeTime(job.completedAt, ctx.now)} <time>${job.completedAt}</time>`,
    ]);
  }
  if (took !== undefined) fields.push([job.completedAt ? "Took" : "Running for", shortDuration(took)]);
  if (job.progress !== undefined || job.status === "completed") {
    fields.push(["Progress", html`${bar(job)} ${job.progress?.message ?? ""}`]);
  }
  const input =
    job.input === undefined ? "" : html`<h2>Input</h2><pre>${JSON.stringify(job.input, null, 2)}</pre>`;
  const outcome =
    job.status === "completed"
      ? html`<h2>Result</h2><pre class="result">${JSON.stringify(job.result, null, 2) ?? ""}</pre>`
      : job.error !== undefined
        ? html`<h2>Error</h2><pre class="error">${jobErrorText(job)}</pre>`
        : "";
  const action = isUnfinished(job.status)
    ? actionForm(ctx, job.jobId, "cancel", "Cancel")
    : job.status === "failed" || job.status === "cancelled"
      ? actionForm(ctx, job.jobId, "retry", "Retry")
      : "";
  const actions = action === "" ? "" : html`<div class="actions">${action}</div>`;
  return html`<dl>${fields.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>${questionForms(ctx, job)}${actions}${extra}${input}<h2>Steps</h2>${timeline(ctx, job)}${outcome}`;
}

function timeline(ctx: PageContext, job: JobDetail): Html {
  if (job.steps.length === 0) return html`<p class="hint">No steps recorded yet.</p>`;
  const rows = job.steps.flatMap((step) =>
    step.attempts.map((a, i) => {
      const retried =
        a.retryAt !== undefined && a.endedAt !== undefined
          ? html` <span class="hint">retried after ${shortDuration(Date.parse(a.retryAt) - Date.parse(a.endedAt))}</span>`
          : "";
      return html`<tr class="attempt ${a.outcome}">
<td>${i === 0 ? step.name : ""}</td><td>#${a.attempt}</td>
<td><span class="status ${a.outcome}">${a.outcome}</span></td>
<td>${relativeTime(a.startedAt, ctx.now)}</td>
<td>${a.durationMs === undefined ? "-" : shortDuration(a.durationMs)}</td>
<td>${a.error === undefined ? "" : html`<span class="error">${a.error}</span>`}${retried}</td></tr>
`;
    }),
  );
  return html`<table class="steps"><thead><tr><th>Step</th><th>Attempt</th><th>Outcome</th><th>Started</th><th>Duration</th><th>Error</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/**
 * A form per elicitation question the job waits on (fields named `field:<name>`), posted to
 * `/job/<id>/answer` with the button's `action`; other kinds are shown for the CLI to answer.
 */
export function questionForms(ctx: PageContext, job: JobDetail): Html | string {
  const questions = job.questions ?? [];
  if (questions.length === 0) return "";
  return html`${questions.map((q) => questionForm(ctx, job.jobId, q))}`;
}

function questionForm(ctx: PageContext, jobId: string, q: Question): Html {
  if (q.kind !== "elicitation") {
    return html`<section class="question"><h2>Waiting for ${q.kind}</h2><p class="hint">Answer with <code>async-tools jobs answer ${jobId}</code>.</p></section>`;
  }
  const request = q.request as ElicitationRequest;
  const required = new Set(request.requestedSchema.required ?? []);
  const fields = Object.entries(request.requestedSchema.properties).map(([name, p]) => {
    const id = `field:${name}`;
    const label = `${String(p.title ?? name)}${required.has(name) ? " *" : ""}`;
    const options = Array.isArray(p.enum) ? p.enum.map(String) : undefined;
    const items = (p.items as { enum?: unknown[] } | undefined)?.enum?.map(String);
    let control: Html;
    if (p.type === "boolean") control = html`<input type="checkbox" name="${id}">`;
    else if (options !== undefined || items !== undefined) {
      const choices = (options ?? items ?? []).map((o) => html`<option>${o}</option>`);
      control =
        items !== undefined
          ? html`<select name="${id}" multiple>${choices}</select>`
          : html`<select name="${id}">${choices}</select>`;
    } else if (p.type === "number" || p.type === "integer") {
      control = html`<input type="number" step="any" name="${id}">`;
    } else control = html`<input type="text" name="${id}">`;
    return html`<label>${label} ${control}</label>`;
  });
  return html`<section class="question"><h2>Question</h2><p>${request.message}</p>
<form method="post" action="${jobPath(ctx, jobId, "answer")}">
${csrfField(ctx)}<input type="hidden" name="question" value="${q.id}">
${fields}
<button type="submit" name="action" value="accept">Submit</button> <button type="submit" name="action" value="decline">Decline</button>
</form></section>`;
}

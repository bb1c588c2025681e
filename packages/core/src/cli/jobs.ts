/**
 * `async-tools jobs list|show|cancel|retry|answer|prune`: the jobs of a store, for an operator. Human output is a
 * table with relative times; `--json` prints the runtime's own shapes (JobSnapshot, JobDetail), documented in
 * docs/cli.md and kept stable.
 */
import { DEFAULTS } from "../defaults.ts";
import {
  answerProblemText,
  jobDurationMs,
  jobErrorText,
  parseDuration,
  parseSince,
  progressBar,
  relativeTime,
  shortDuration,
  shortText,
  table,
} from "../internal/format.ts";
import type { ElicitationRequest, Question } from "../question-types.ts";
import { isUnfinished, JOB_STATUSES, type JobSnapshot, type JobStatus } from "../runtime/job.ts";
import type { JobDetail } from "../runtime/job-detail.ts";
import { pruneJobs } from "../runtime/prune.ts";
import { type AsyncTools, OPERATOR } from "../runtime/runtime.ts";
import { type CliContext, CliError, type Command, EXIT, parse, printJson, STORE_OPTIONS } from "./command.ts";
import { openForCli, storeSpec } from "./open-store.ts";

const STATUSES: readonly JobStatus[] = JOB_STATUSES.filter((s) => s !== "not_found");

/** Opens the store of the parsed `--store`, runs `fn`, and always closes it. */
async function withStore<T>(
  ctx: CliContext,
  store: string | undefined,
  fn: (runtime: AsyncTools) => Promise<T>,
): Promise<T> {
  const runtime = await openForCli(storeSpec(store, ctx.env), ctx.env);
  try {
    return await fn(runtime);
  } finally {
    await runtime.close();
  }
}

function oneId(positionals: string[]): string {
  const [id, ...extra] = positionals;
  if (id === undefined || extra.length > 0) throw new CliError("Expected one job ID.", EXIT.usage);
  return id;
}

/** Every job matching `filter`, in start order, reading the index page by page; every principal's. */
export async function allJobs(
  runtime: AsyncTools,
  filter: Parameters<AsyncTools["list"]>[0] = {},
): Promise<JobSnapshot[]> {
  const jobs: JobSnapshot[] = [];
  let cursor: number | undefined;
  do {
    const page = await runtime.list({
      ...filter,
      ...OPERATOR,
      limit: 500,
      ...(cursor === undefined ? {} : { cursor }),
    });
    jobs.push(...page.jobs);
    cursor = page.next;
  } while (cursor !== undefined);
  return jobs;
}

const list: Command = {
  path: ["jobs", "list"],
  usage:
    "async-tools jobs list [--tool NAME] [--status S[,S]] [--since 1h|DATE] [--limit N] [--store PATH] [--json]",
  summary: "the jobs of a store, newest last",
  operator: true,
  run: async (args, ctx) => {
    const { values } = parse(args, {
      ...STORE_OPTIONS,
      tool: { type: "string" },
      status: { type: "string" },
      since: { type: "string" },
      limit: { type: "string" },
    });
    const statuses = values.status?.split(",").map((s) => s.trim()) as JobStatus[] | undefined;
    for (const status of statuses ?? []) {
      if (!STATUSES.includes(status)) {
        throw new CliError(`Unknown status ${status}; use one of ${STATUSES.join(", ")}.`, EXIT.usage);
      }
    }
    const since = values.since === undefined ? undefined : parseSince(values.since, ctx.now());
    if (values.since !== undefined && since === undefined) {
      throw new CliError(
        `--since takes a duration (30m, 2h, 7d) or a date, not ${values.since}.`,
        EXIT.usage,
      );
    }
    const limit = values.limit === undefined ? undefined : Number(values.limit);
    if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) {
      throw new CliError("--limit takes a positive whole number.", EXIT.usage);
    }
    const jobs = await withStore(ctx, values.store, (runtime) =>
      allJobs(runtime, {
        ...(values.tool === undefined ? {} : { tool: values.tool }),
        ...(statuses === undefined ? {} : { status: statuses }),
        ...(since === undefined ? {} : { since }),
      }),
    );
    // The newest jobs are the interesting ones: a limit keeps the last ones, still in start order.
    const shown = limit === undefined ? jobs : jobs.slice(-limit);
    if (values.json) {
      printJson(ctx, { jobs: shown });
      return EXIT.ok;
    }
    if (shown.length === 0) {
      ctx.out("No jobs.");
      return EXIT.ok;
    }
    const now = ctx.now();
    ctx.out(
      table(
        ["ID", "TOOL", "STATUS", "PROGRESS", "STARTED", "DURATION", "NOTE"],
        shown.map((job) => [
          job.jobId,
          job.tool ?? "-",
          job.status,
          job.status === "completed" ? "" : progressBar(job.progress?.fraction),
          relativeTime(job.createdAt, now),
          shortDuration(jobDurationMs(job, now) ?? Number.NaN),
          shortText(note(job), 50),
        ]),
      ),
    );
    if (limit !== undefined && jobs.length > shown.length) {
      ctx.out(`(${jobs.length - shown.length} older jobs not shown; raise --limit to see them)`);
    }
    return EXIT.ok;
  },
};

function notFoundText(jobId: string): string {
  return jobErrorText({ jobId, error: { code: "not_found" } });
}

/** The one-line note of a job in a list: why it failed, what it is doing, or where it waits. */
function note(job: JobSnapshot): string {
  if (job.error !== undefined && job.status !== "completed") return jobErrorText(job) ?? "";
  if (job.retrying !== undefined) {
    return `retrying ${job.retrying.step} (attempt ${job.retrying.attempt + 1}/${job.retrying.attempts}): ${job.retrying.error}`;
  }
  if (job.queuePosition !== undefined) return `#${job.queuePosition} in queue`;
  if (isUnfinished(job.status)) return job.progress?.message ?? "";
  return "";
}

const show: Command = {
  path: ["jobs", "show"],
  usage: "async-tools jobs show ID [--store PATH] [--json]",
  summary: "a job: input, result or error, and its step timeline",
  operator: true,
  run: async (args, ctx) => {
    const { values, positionals } = parse(args, STORE_OPTIONS);
    const id = oneId(positionals);
    const detail = await withStore(ctx, values.store, (runtime) => runtime.get(id, OPERATOR));
    if (values.json) printJson(ctx, detail);
    else ctx.out(describeJob(detail, ctx.now()));
    return detail.status === "not_found" ? EXIT.failed : EXIT.ok;
  },
};

/** A job for people: a block of fields, then its step timeline, one row per attempt. */
export function describeJob(job: JobDetail, now: number): string {
  if (job.status === "not_found") return notFoundText(job.jobId);
  const at = (iso: string | undefined) => (iso === undefined ? "-" : `${iso} (${relativeTime(iso, now)})`);
  const fields: [string, string][] = [
    ["Job", job.jobId],
    ["Tool", job.tool ?? "-"],
    ["Status", job.status],
    ["Started", at(job.createdAt)],
  ];
  if (job.completedAt !== undefined) fields.push(["Finished", at(job.completedAt)]);
  const took = jobDurationMs(job, now);
  if (took !== undefined) fields.push([job.completedAt ? "Took" : "Running for", shortDuration(took)]);
  if (job.progress !== undefined && job.status !== "completed") {
    fields.push(["Progress", `${progressBar(job.progress.fraction)} ${job.progress.message ?? ""}`.trim()]);
  }
  if (job.queuePosition !== undefined) fields.push(["Queue", `#${job.queuePosition}`]);
  if (job.input !== undefined) fields.push(["Input", shortText(job.input, 200)]);
  for (const q of job.questions ?? []) fields.push(["Question", `${q.id} (${q.kind}): ${questionText(q)}`]);
  const error = jobErrorText(job);
  if (error !== undefined) fields.push(["Error", error]);
  if (job.status === "completed") fields.push(["Result", shortText(job.result, 200)]);
  const width = Math.max(...fields.map(([k]) => k.length));
  const lines = fields.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
  lines.push("");
  if (job.steps.length === 0) {
    lines.push("Steps: none recorded.");
    return lines.join("\n");
  }
  lines.push("Steps:");
  const rows: string[][] = [];
  for (const step of job.steps) {
    for (const attempt of step.attempts) {
      const retry =
        attempt.retryAt === undefined || attempt.endedAt === undefined
          ? ""
          : ` (retried after ${shortDuration(Date.parse(attempt.retryAt) - Date.parse(attempt.endedAt))})`;
      rows.push([
        attempt.attempt === step.attempts[0]?.attempt ? step.name : "",
        `#${attempt.attempt}`,
        attempt.outcome,
        relativeTime(attempt.startedAt, now),
        attempt.durationMs === undefined ? "-" : shortDuration(attempt.durationMs),
        attempt.error === undefined ? "" : shortText(attempt.error + retry, 80),
      ]);
    }
  }
  lines.push(
    table(["STEP", "ATTEMPT", "OUTCOME", "STARTED", "DURATION", "ERROR"], rows)
      .split("\n")
      .map((l) => `  ${l}`)
      .join("\n"),
  );
  return lines.join("\n");
}

const cancel: Command = {
  path: ["jobs", "cancel"],
  usage: "async-tools jobs cancel ID [--reason TEXT] [--store PATH] [--json]",
  summary: "cancels an unfinished job",
  operator: true,
  run: async (args, ctx) => {
    const { values, positionals } = parse(args, { ...STORE_OPTIONS, reason: { type: "string" } });
    const id = oneId(positionals);
    const reason = values.reason ?? "cancelled from the async-tools CLI";
    const after = await withStore(ctx, values.store, async (runtime) => {
      const [before] = await runtime.probe([id], OPERATOR);
      const snapshot = await runtime.cancel(id, reason, OPERATOR);
      return { before: before as JobSnapshot, snapshot };
    });
    if (values.json) {
      printJson(ctx, after.snapshot);
    } else if (after.snapshot.status === "not_found") {
      ctx.err(notFoundText(id));
    } else if (isUnfinished(after.before.status)) {
      ctx.out(`Cancelled ${id}.`);
    } else {
      ctx.out(`Job ${id} is already ${after.snapshot.status}; nothing to cancel.`);
    }
    return after.snapshot.status === "not_found" ? EXIT.failed : EXIT.ok;
  },
};

const retry: Command = {
  path: ["jobs", "retry"],
  usage: "async-tools jobs retry ID [--store PATH] [--json]",
  summary: "starts a fresh run of a failed or cancelled job with its input",
  operator: true,
  run: async (args, ctx) => {
    const { values, positionals } = parse(args, STORE_OPTIONS);
    const id = oneId(positionals);
    const started = await withStore(ctx, values.store, (runtime) => runtime.retry(id, OPERATOR));
    if (values.json) printJson(ctx, started);
    else if (started.created) {
      ctx.out(
        `Started ${started.jobId}, a fresh run of ${id}. ` +
          "A server that runs its tool picks it up (at once if it runs now, else when it starts).",
      );
    } else if (started.status === "not_found") ctx.err(notFoundText(id));
    else ctx.err(`Job ${id} is ${started.status}; only failed or cancelled jobs can be retried.`);
    return started.created ? EXIT.ok : EXIT.failed;
  },
};

const prune: Command = {
  path: ["jobs", "prune"],
  usage: "async-tools jobs prune [--older-than 7d] [--store PATH] [--json]",
  summary: "removes jobs that finished longer ago than that (default: the retention)",
  operator: true,
  run: async (args, ctx) => {
    const { values } = parse(args, { ...STORE_OPTIONS, "older-than": { type: "string" } });
    const raw = values["older-than"];
    const olderThanMs = raw === undefined ? DEFAULTS.retentionMs : parseDuration(raw);
    if (olderThanMs === undefined) {
      throw new CliError(`--older-than takes a duration (30m, 2h, 7d), not ${raw}.`, EXIT.usage);
    }
    const result = await withStore(ctx, values.store, (runtime) => pruneJobs(runtime, olderThanMs));
    if (values.json) printJson(ctx, result);
    else ctx.out(`Removed ${result.removed.length} job(s) that finished before ${result.before}.`);
    return EXIT.ok;
  },
};

/** What a question asks, for people: the form's message and fields. */
function questionText(q: Question): string {
  if (q.kind !== "elicitation") return q.kind === "sampling" ? "a model completion" : "the client's roots";
  const request = q.request as ElicitationRequest;
  return `${request.message} [fields: ${Object.keys(request.requestedSchema.properties).join(", ")}]`;
}

/**
 * The answers `given` means for job `id`: with `--question`, `given` is that question's answer; else an object
 * whose keys are all question IDs (they hold a `/`, answer fields never do) maps each to its answer; else it
 * is the answer to the one question the job waits on, and refused when it waits on none or on several.
 */
function answersOf(
  id: string,
  given: Record<string, unknown>,
  question: string | undefined,
  open: readonly Question[],
): Record<string, unknown> | string {
  if (question !== undefined) return { [question]: given };
  const keys = Object.keys(given);
  if (keys.length > 0 && keys.every((key) => key.includes("/"))) return given;
  const [only, ...more] = open;
  if (only !== undefined && more.length === 0) return { [only.id]: given };
  if (only === undefined) return `Job ${id} waits on no question now.`;
  return (
    `Job ${id} waits on ${open.length} questions (${open.map((q) => q.id).join(", ")}): name the one this ` +
    `answer is for with --question ID, or pass {"<question id>": answer, …}.`
  );
}

const answer: Command = {
  path: ["jobs", "answer"],
  usage: "async-tools jobs answer ID [--question QID] --json ANSWER [--store PATH]",
  summary:
    'answers a question an input_required job waits on: --json \'{"action": "accept", "content": {…}}\' (with --question QID when it waits on several), or \'{"<question id>": answer, …}\'',
  operator: true,
  run: async (args, ctx) => {
    const { values, positionals } = parse(args, {
      store: { type: "string" },
      json: { type: "string" },
      question: { type: "string" },
    });
    const id = oneId(positionals);
    let given: unknown;
    try {
      given = JSON.parse(values.json ?? "");
    } catch {
      throw new CliError(
        `--json takes the answer as JSON, e.g. '{"action": "accept", "content": {"proceed": true}}'.`,
        EXIT.usage,
      );
    }
    if (given === null || typeof given !== "object" || Array.isArray(given)) {
      throw new CliError("--json takes a JSON object: an answer, or question ID → answer.", EXIT.usage);
    }
    const outcome = await withStore(ctx, values.store, async (runtime) => {
      const [job] = await runtime.probe([id], OPERATOR);
      if (job === undefined || job.status === "not_found") return { status: "not_found" as const };
      const answers = answersOf(id, given as Record<string, unknown>, values.question, job.questions ?? []);
      if (typeof answers === "string") return { status: "unusable" as const, text: answers };
      return { ...(await runtime.answer(id, answers, OPERATOR)), answered: Object.keys(answers) };
    });
    if (outcome.status === "ok") {
      const answered = "answered" in outcome ? outcome.answered.join(", ") : id;
      ctx.out(`Answered ${answered}; the job resumes on a server that runs its tool.`);
      return EXIT.ok;
    }
    if (outcome.status === "not_found") ctx.err(notFoundText(id));
    else if (outcome.status === "unusable") ctx.err(outcome.text);
    else ctx.err(answerProblemText(id, outcome.problem));
    return EXIT.failed;
  },
};

/** The `jobs …` commands. */
export const JOBS_COMMANDS: readonly Command[] = [list, show, cancel, retry, answer, prune];

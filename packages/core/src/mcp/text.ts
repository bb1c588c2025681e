/**
 * Everything a model reads about jobs: tool descriptions, one-line job states, and what to call next. Kept
 * in one file so both SDK generations say exactly the same.
 */

import { answerProblemText, jobErrorText } from "../internal/format.ts";

/** Why answers were refused: the same sentence for a model as for people. */
export { answerProblemText };

import type { ElicitationRequest, Question } from "../question-types.ts";
import type { JobSnapshot } from "../runtime/job.ts";

/** The names a set of job tools is reached by, and the ID field they use. */
export interface JobToolNames {
  start: string;
  probe: string;
  await: string;
  cancel: string | false;
  /** The tool that answers questions, or `false` where none is listed. */
  respond: string | false;
  idField: string;
}

export function idsFieldOf(idField: string): string {
  return `${idField}s`;
}

/** A sentence-ending form of a definition's description. */
export function sentence(text: string): string {
  return text.replace(/\.?\s*$/, ".");
}

/** A job's state in one line, e.g. `weather-3f2a…: working 40% (fetching)`. */
export function describeLine(s: JobSnapshot): string {
  let line = `${s.jobId}: ${s.status}`;
  if (s.status === "queued" && s.queuePosition !== undefined) line += ` (place ${s.queuePosition})`;
  if (s.status === "working" && s.progress) {
    line += ` ${Math.round(s.progress.fraction * 100)}%`;
    if (s.progress.message) line += ` (${s.progress.message})`;
  }
  if (s.retrying) line += ` - ${retryLine(s.retrying)}`;
  for (const q of s.questions ?? []) line += ` - waits for an answer to ${q.id}: ${questionSummary(q)}`;
  const error = errorText(s);
  if (error && s.status !== "working" && s.status !== "queued") line += ` - ${error}`;
  return line;
}

/**
 * Why the job `s` did not complete, or cannot be read, in the words a model reads (the runtime gives a code
 * and its data); `undefined` when it has no error.
 */
export function errorText(s: JobSnapshot): string | undefined {
  const error = s.error;
  const tool = s.tool ?? "its tool";
  // Where a model can act on it, the sentence says what to do; otherwise it reads as people read it.
  switch (error?.code) {
    case "expired":
      return "This job finished long ago and its result was removed by the retention policy. Start it again.";
    case "version_gone":
      return (
        `This job was started by version ${error.version} of ${tool}, which this server no longer runs ` +
        `(it runs version ${error.versions.join(", ")}). Start it again to run it on the current version.`
      );
    case "input_mismatch":
      return (
        `The input of job ${s.jobId} no longer matches ${tool} version ${error.version} ` +
        `(${error.issues.join("; ")}). Start it again with arguments the current version accepts.`
      );
    default:
      return jobErrorText(s);
  }
}

/** "retrying step 'fetch' (attempt 3 of 5): 503 Service Unavailable" */
export function retryLine(r: NonNullable<JobSnapshot["retrying"]>): string {
  return `retrying step '${r.step}' (attempt ${r.attempt + 1} of ${r.attempts}): ${r.error}`;
}

/** What a question asks, in a line: the form's message, or what the client is asked for. */
export function questionSummary(q: Question): string {
  if (q.kind === "elicitation") return JSON.stringify((q.request as ElicitationRequest).message);
  return q.kind === "sampling" ? "a completion from your model (sampling)" : "your roots";
}

/**
 * What a model does about jobs that wait for answers: ask the user, then call the respond tool, with an
 * example call per question. Empty when no job waits.
 */
export function questionsNote(snapshots: readonly JobSnapshot[], n: JobToolNames): string {
  const lines: string[] = [];
  for (const s of snapshots) {
    for (const q of s.questions ?? []) {
      const example =
        q.kind === "elicitation"
          ? `{"action": "accept", "content": ${exampleContent(q.request as ElicitationRequest)}} (or {"action": "decline"})`
          : q.kind === "sampling"
            ? '{"role": "assistant", "content": {"type": "text", "text": "…"}, "model": "<your model>"}'
            : '{"roots": [{"uri": "file:///…"}]}';
      const how = n.respond
        ? `call ${n.respond} with {"${n.idField}": "${s.jobId}", "question_id": "${q.id}", "answer": ${example}}`
        : `this server lists no respond tool for it: answer it from the dashboard or with \`async-tools jobs answer ${s.jobId}\``;
      const who = q.kind === "elicitation" ? "Ask the user, then " : "Then ";
      lines.push(`Job ${s.jobId} waits for an answer to ${q.id}: ${questionSummary(q)}. ${who}${how}.`);
    }
  }
  return lines.length === 0 ? "" : `\n${lines.join("\n")}`;
}

/** An example `content` for a form: each field with a placeholder of its type. */
function exampleContent(request: ElicitationRequest): string {
  const fields = Object.entries(request.requestedSchema.properties).map(([key, p]) => {
    const options = Array.isArray(p.enum) ? p.enum : undefined;
    const value =
      options !== undefined
        ? JSON.stringify(options[0])
        : p.type === "boolean"
          ? "true"
          : p.type === "number" || p.type === "integer"
            ? "0"
            : p.type === "array"
              ? "[]"
              : '"…"';
    return `"${key}": ${value}`;
  });
  return `{${fields.join(", ")}}`;
}

export function respondDescription(startedBy: string, n: JobToolNames): string {
  return (
    `Answers a question that a job started by ${startedBy} waits on (status input_required; ${n.probe} and ` +
    `${n.await} show its questions with their IDs and forms). For a form (elicitation), ask the user first and ` +
    `pass their answer: {"action": "accept", "content": {…the form's fields…}}, or {"action": "decline"} / ` +
    `{"action": "cancel"} if they refuse. question_id may be left out when the job waits on one question. ` +
    `Then call ${n.await} again for the result.`
  );
}

/** What a task's status message says for an unfinished job. */
export function statusMessageOf(s: JobSnapshot): string | undefined {
  if (s.status === "queued")
    return `queued${s.queuePosition === undefined ? "" : ` (place ${s.queuePosition})`}`;
  if (s.status === "input_required") {
    return `waiting for an answer: ${(s.questions ?? []).map(questionSummary).join("; ")}`;
  }
  if (s.status !== "working") return errorText(s);
  if (s.retrying) return retryLine(s.retrying);
  const progress = s.progress;
  if (progress === undefined) return undefined;
  const percent = `${Math.round(progress.fraction * 100)}%`;
  return progress.message ? `${progress.message} (${percent})` : percent;
}

export function startDescription(description: string, n: JobToolNames, awaitSeconds: number): string {
  const ids = idsFieldOf(n.idField);
  const cancelHint = n.cancel ? `, or ${n.cancel} to stop it` : "";
  return (
    `${sentence(description)} Runs in the background: returns a ${n.idField} at once. ` +
    `The same arguments always give the same ${n.idField} and never run the work twice, so retrying is safe. ` +
    `Next: call ${n.await} with ${ids} to wait for results (it returns within about ${awaitSeconds} s; call it ` +
    `again for jobs still working), or ${n.probe} to check progress without waiting${cancelHint}. To do several ` +
    "at once, start them all first, then await them together."
  );
}

export function probeDescription(startedBy: string, n: JobToolNames): string {
  return (
    `Checks jobs started by ${startedBy} without waiting: for each ${n.idField}, its status (queued, working, ` +
    `input_required, completed, failed, cancelled, not_found, expired), progress, error, and the questions an ` +
    `input_required job waits on. Results are not included: call ` +
    `${n.await} to collect them. Takes up to 1000 ${idsFieldOf(n.idField)} at once.`
  );
}

export function awaitDescription(
  startedBy: string,
  n: JobToolNames,
  defaultSeconds: number,
  maxSeconds: number,
) {
  return (
    `Waits for jobs started by ${startedBy} and returns their results. Blocks until all are done or ` +
    `timeout_seconds pass (default ${defaultSeconds}, at most ${maxSeconds}), then returns what is done and lists ` +
    `the jobs still unfinished in still_working: call ${n.await} again for those. Unfinished jobs are not an error. ` +
    "It returns early when a job waits for an answer (input_required): the result says how to answer."
  );
}

export function cancelDescription(startedBy: string): string {
  return (
    `Cancels jobs started by ${startedBy} that are still unfinished; finished jobs are left as they are. ` +
    "A later start with the same arguments starts a fresh run."
  );
}

/**
 * The task tool's description. `waitSeconds`: how long a plain call waits for the job (`optional` support);
 * `undefined` when the tool runs only as a task.
 */
export function taskDescription(
  description: string,
  n: JobToolNames,
  waitSeconds: number | undefined,
): string {
  const shared =
    `The same arguments always give the same job, shared with ${n.start}, and never run the work twice: the ` +
    `task ID is the ${n.idField} that ${n.probe} and ${n.await} take.`;
  if (waitSeconds === undefined) {
    return (
      `${sentence(description)} Only for clients that support MCP Tasks: call it as a task to get a task at ` +
      `once. Without Tasks, call ${n.start} and then ${n.await}. ${shared}`
    );
  }
  return (
    `${sentence(description)} Called as an MCP task, it returns the task at once. Called plainly, it waits up ` +
    `to ${waitSeconds} s for the result, like ${n.await}; if the job is still running then, it says which ` +
    `${n.idField} to pass to ${n.await} to keep waiting. ${shared}`
  );
}

/** The protocol error a plain (non-task) call of a task tool that requires a task gets. */
/** A plain call's answer when its job is still running after the wait: how to keep waiting. */
export function stillRunningText(jobId: string, waitMs: number, n: JobToolNames): string {
  return (
    `Job ${jobId} is still running after ${Math.round(waitMs / 1000)} s. Call ${n.await} with ` +
    `{"${idsFieldOf(n.idField)}": ["${jobId}"]} to wait for its result.`
  );
}

export function plainTaskCallError(tool: string, n: JobToolNames): string {
  return (
    `${tool} runs only as an MCP task, and this call did not ask for one. Call ${n.start} with the same ` +
    `arguments to start the job, then ${n.await} with the ${n.idField} it returns.`
  );
}

export function startedText(
  s: JobSnapshot,
  created: boolean,
  n: JobToolNames,
): { text: string; next: string } {
  const ids = idsFieldOf(n.idField);
  const unfinished = s.status === "working" || s.status === "queued";
  const next = unfinished
    ? `Call ${n.await} with {"${ids}": ["${s.jobId}"]} to get the result.`
    : `Call ${n.await} with {"${ids}": ["${s.jobId}"]} to read it` +
      (s.status === "completed" ? "." : ", or start again with fresh: true to retry.");
  const state = s.status === "queued" ? `queued, place ${s.queuePosition ?? "?"}` : s.status;
  const text = created
    ? `Started job ${s.jobId} (${state}). ${next}`
    : `Job ${s.jobId} already exists for these arguments (${state}); no new work started. ${next}`;
  return { text, next };
}

/**
 * Why the params of a `tools/call` cannot name a tool, or `undefined` when they do: said plainly, since the
 * SDKs would answer with their schema library's raw issue list (or an internal error).
 */
export function toolCallParamsProblem(params: Record<string, unknown> | undefined): string | undefined {
  const name = params?.name;
  if (typeof name === "string" && name !== "") return undefined;
  const got = name === undefined ? "none" : JSON.stringify(name).slice(0, 40);
  return `Invalid params: tools/call needs "name", the name of a tool from tools/list, as a string (got ${got})`;
}

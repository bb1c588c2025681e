/**
 * Asking the client itself: while a client that can be asked (it declared elicitation, sampling or roots) waits
 * on jobs in an await or a plain task-tool call, the questions those jobs wait on are sent to it as requests,
 * and its answers are delivered durably like any other. A restart loses nothing: the next call asks again.
 */
import { log } from "../internal/log.ts";
import type { Answer, Question } from "../question-types.ts";
import type { JobSnapshot, WaitOptions } from "../runtime/job.ts";
import type { JobEngine } from "../runtime/job-engine.ts";
import { errorText } from "../runtime/step-retry.ts";

/** Sends a question to the client and returns its answer; `undefined` when it cannot be asked this kind. */
export type AskClient = (question: Question, signal: AbortSignal) => Promise<Answer | undefined>;

/**
 * Waits like {@link JobEngine.wait}, and each time jobs start waiting for answers, asks `ask` (the client)
 * each new question once and delivers its answer, then waits on for the time left.
 */
export async function waitAsking(
  engine: JobEngine,
  ids: string[],
  timeoutMs: number,
  options: WaitOptions,
  ask: AskClient | undefined,
): Promise<JobSnapshot[]> {
  const deadline = Date.now() + timeoutMs;
  const asked = new Set<string>();
  const scope = options.everyone
    ? { everyone: true }
    : options.principal === undefined
      ? {}
      : { principal: options.principal };
  for (;;) {
    const snapshots = await engine.wait(ids, Math.max(0, deadline - Date.now()), options);
    const signal = options.signal ?? new AbortController().signal;
    if (ask === undefined || signal.aborted) return snapshots;
    const fresh = snapshots.flatMap((s) =>
      (s.questions ?? []).filter((q) => !asked.has(q.id)).map((question) => ({ jobId: s.jobId, question })),
    );
    if (fresh.length === 0) return snapshots;
    let delivered = 0;
    for (const { jobId, question } of fresh) {
      asked.add(question.id);
      let answer: Answer | undefined;
      try {
        answer = await ask(question, signal);
      } catch (error) {
        // The client refused or timed out: the question stays open for the next call, another client, the CLI.
        log("debug", "the client did not answer a question", {
          job: jobId,
          question: question.id,
          error: errorText(error),
        });
      }
      if (answer === undefined) continue;
      const outcome = await engine.answer(jobId, { [question.id]: answer }, scope);
      if (outcome.status === "ok") delivered += 1;
      else
        log("info", "the client's answer was not delivered", {
          job: jobId,
          question: question.id,
          ...outcome,
        });
    }
    if (delivered === 0) return snapshots;
  }
}

/**
 * Asking the client itself: a client that can be asked (it declared elicitation, sampling or roots on
 * 2025-11-25) gets the questions of its jobs as requests, and its answers are delivered durably like any other.
 * It is asked while it waits on jobs in an await or a plain task-tool call, and, over a connection that lets
 * the server send requests at any time, while it waits on nothing (`client-push.ts`). A restart loses nothing:
 * the next session asks again.
 */
import { randomUUID } from "node:crypto";
import { DEFAULTS } from "../defaults.ts";
import { log } from "../internal/log.ts";
import type { Answer, Question, RootsAnswer, SamplingAnswer } from "../question-types.ts";
import type { CallerScope, JobSnapshot, WaitOptions } from "../runtime/job.ts";
import type { JobEngine } from "../runtime/job-engine.ts";
import { errorText } from "../runtime/step-retry.ts";
import type { QuestionClaims } from "./question-claims.ts";

/** Sends a question to the client and returns its answer; `undefined` when it cannot be asked this kind. */
export type AskClient = (question: Question, signal: AbortSignal) => Promise<Answer | undefined>;

/** How asking a question ended: answered, asked by another session now, or not answered by this client. */
export type AskOutcome = "delivered" | "busy" | "unanswered";

/**
 * One client's asking: each question is sent to it at most once at a time, only when this session holds the
 * question's claim in the store (so no other session asks it meanwhile), and its answer is delivered to the
 * job as the caller in `scope`.
 */
export class ClientQuestions {
  private readonly engine: JobEngine;
  private readonly claims: QuestionClaims;
  private readonly send: AskClient;
  private readonly scope: CallerScope;
  private readonly holder = randomUUID();
  private readonly inflight = new Map<string, Promise<AskOutcome>>();

  constructor(engine: JobEngine, claims: QuestionClaims, send: AskClient, scope: CallerScope) {
    this.engine = engine;
    this.claims = claims;
    this.send = send;
    this.scope = scope;
  }

  /** Asks the client `question` of `jobId`, or joins the asking of it under way, and delivers the answer. */
  ask(jobId: string, question: Question, signal: AbortSignal): Promise<AskOutcome> {
    const running = this.inflight.get(question.id);
    if (running !== undefined) return running;
    const asking = this.claimAndAsk(jobId, question, signal).finally(() => this.inflight.delete(question.id));
    this.inflight.set(question.id, asking);
    return asking;
  }

  private async claimAndAsk(jobId: string, question: Question, signal: AbortSignal): Promise<AskOutcome> {
    const release = await this.claims.claim(jobId, question.id, this.holder);
    if (release === undefined) return "busy";
    try {
      let answer: Answer | undefined;
      try {
        answer = await this.send(question, signal);
      } catch (error) {
        // The client refused or timed out: the question stays open for another call, client, or the CLI.
        log("debug", "the client did not answer a question", {
          job: jobId,
          question: question.id,
          error: errorText(error),
        });
      }
      if (answer === undefined) return "unanswered";
      const outcome = await this.engine.answer(jobId, { [question.id]: answer }, this.scope);
      if (outcome.status === "ok") return "delivered";
      log("info", "the client's answer was not delivered", { job: jobId, question: question.id, ...outcome });
      return "unanswered";
    } finally {
      release();
    }
  }
}

/**
 * Waits like {@link JobEngine.wait}, and each time jobs start waiting for answers, asks the client (through
 * `asker`) each new question once and delivers its answer, then waits on for the time left.
 */
export async function waitAsking(
  engine: JobEngine,
  ids: string[],
  timeoutMs: number,
  options: WaitOptions,
  asker: ClientQuestions | undefined,
): Promise<JobSnapshot[]> {
  const deadline = Date.now() + timeoutMs;
  const asked = new Set<string>();
  for (;;) {
    const snapshots = await engine.wait(ids, Math.max(0, deadline - Date.now()), options);
    const signal = options.signal ?? new AbortController().signal;
    if (asker === undefined || signal.aborted) return snapshots;
    const fresh = snapshots.flatMap((s) =>
      (s.questions ?? []).filter((q) => !asked.has(q.id)).map((question) => ({ jobId: s.jobId, question })),
    );
    if (fresh.length === 0) return snapshots;
    let delivered = 0;
    for (const { jobId, question } of fresh) {
      asked.add(question.id);
      if ((await asker.ask(jobId, question, signal)) === "delivered") delivered += 1;
    }
    if (delivered === 0) return snapshots;
  }
}

/** The request options every question is sent with: the call's signal and the documented answer timeout. */
export interface ClientRequestOptions {
  signal: AbortSignal;
  timeout: number;
  resetTimeoutOnProgress: boolean;
}

/** How one SDK generation sends each kind of question to its client, and gets the result back. */
export interface ClientRequests {
  elicit(
    params: Record<string, unknown>,
    options: ClientRequestOptions,
  ): Promise<{ action: string; content?: unknown }>;
  sample(params: Record<string, unknown>, options: ClientRequestOptions): Promise<Record<string, unknown>>;
  roots(options: ClientRequestOptions): Promise<Record<string, unknown>>;
}

/** The capabilities a 2025-11-25 client declared, as far as asking it goes. */
export interface AskableCapabilities {
  elicitation?: { form?: unknown; url?: unknown } | undefined;
  sampling?: unknown;
  roots?: unknown;
}

/**
 * Sends a job's question with `requests` as the request its kind is (`elicitation/create` in form mode,
 * `sampling/createMessage`, `roots/list`), if the client declared it can take it; `undefined` when it can
 * take none of them.
 */
export function askClientWith(
  capabilities: AskableCapabilities | undefined,
  requests: ClientRequests,
): AskClient | undefined {
  const elicitation = capabilities?.elicitation;
  // An empty elicitation capability means form mode (2025-11-25).
  const forms =
    elicitation !== undefined && (elicitation.form !== undefined || elicitation.url === undefined);
  const sampling = capabilities?.sampling !== undefined;
  const roots = capabilities?.roots !== undefined;
  if (!forms && !sampling && !roots) return undefined;
  return async (question, signal) => {
    const options = { signal, timeout: DEFAULTS.clientAnswerTimeoutMs, resetTimeoutOnProgress: true };
    switch (question.kind) {
      case "elicitation": {
        if (!forms) return undefined;
        const result = await requests.elicit(question.request as Record<string, unknown>, options);
        if (result.action === "accept")
          return { action: "accept", content: (result.content ?? {}) as Record<string, unknown> };
        return result.action === "decline" ? { action: "decline" } : { action: "cancel" };
      }
      case "sampling": {
        if (!sampling) return undefined;
        const { _meta, ...result } = await requests.sample(
          question.request as Record<string, unknown>,
          options,
        );
        return result as SamplingAnswer;
      }
      case "roots": {
        if (!roots) return undefined;
        const { _meta, ...result } = await requests.roots(options);
        return result as RootsAnswer;
      }
    }
  };
}

/**
 * Asking a connected client that waits on nothing: while a 2025-11-25 session that can be asked is open (and
 * its transport can carry a request the server starts), the unfinished jobs of its principal are followed in
 * the store, and each question they open is sent to the client through its {@link ClientQuestions}, which
 * claims it first, so no two sessions ask it at once. A question the client did not answer is not sent to the
 * same session again; a new session (after a restart, say) asks it again.
 */
import { DEFAULTS } from "../defaults.ts";
import type { AnyAsyncTool } from "../define.ts";
import { log } from "../internal/log.ts";
import { type CallerScope, ownedBy } from "../runtime/job.ts";
import type { JobEngine } from "../runtime/job-engine.ts";
import { Questions } from "../runtime/questions.ts";
import { errorText } from "../runtime/step-retry.ts";
import type { ClientQuestions } from "./client-questions.ts";

/** Options of {@link pushQuestions}. */
export interface PushOptions {
  /** Ends the following (the session closed). */
  signal: AbortSignal;
  /** Whether the client can be sent a request now (an HTTP session needs its GET stream open). */
  canSend: () => boolean;
  /** How often the store is read. Default {@link DEFAULTS.questionPushCheckMs}. */
  checkMs?: number;
}

/** Rows of the job index read per page while looking for new jobs of the principal. */
const PAGE = 100;

/**
 * Follows the unfinished jobs of `scope`'s principal (those that may still be running: started within the
 * longest job timeout of the engine's definitions, or later) until `signal` aborts, and asks `asker` every
 * question they open.
 */
export function pushQuestions(
  engine: JobEngine,
  asker: ClientQuestions,
  scope: CallerScope,
  options: PushOptions,
): void {
  const { signal } = options;
  const questions = new Questions(engine.promises);
  const followed = new Set<string>();
  const seen = new Set<string>();
  const unanswered = new Set<string>();
  const longest = Math.max(0, ...engine.definitions().map((d: AnyAsyncTool) => d.timeoutMs));
  const since = Date.now() - longest;
  let cursor: number | undefined;

  const discover = async () => {
    for (;;) {
      const page = await engine.meta.list({
        limit: PAGE,
        since,
        principal: scope.principal ?? "",
        ...(cursor === undefined ? {} : { cursor }),
      });
      // The index gives no cursor past its last page, so that page comes again: each job is followed once.
      for (const row of page.rows) {
        if (seen.has(row.id)) continue;
        seen.add(row.id);
        followed.add(row.id);
      }
      if (page.next === undefined) return;
      cursor = page.next;
    }
  };

  const look = async (jobId: string) => {
    const record = await engine.promises.get(jobId);
    if (record === undefined || record.state !== "pending" || !ownedBy(record, scope)) {
      followed.delete(jobId);
      return;
    }
    for (const question of await questions.pending(jobId)) {
      if (unanswered.has(question.id) || signal.aborted) continue;
      void asker.ask(jobId, question, signal).then((outcome) => {
        if (outcome === "unanswered") unanswered.add(question.id);
      });
    }
  };

  const checkMs = options.checkMs ?? DEFAULTS.questionPushCheckMs;
  const tick = async () => {
    if (signal.aborted) return;
    try {
      if (options.canSend()) {
        await discover();
        for (const jobId of followed) if (!signal.aborted) await look(jobId);
      }
    } catch (error) {
      log("debug", "looking for questions to ask the client failed", { error: errorText(error) });
    }
    if (!signal.aborted) setTimeout(() => void tick(), checkMs).unref();
  };
  void tick();
}
